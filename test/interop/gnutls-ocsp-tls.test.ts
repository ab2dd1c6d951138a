/**
 * GnuTLS as the second referee on the wire: `ocsptool --ask` verifies the OCSP responses of
 * `trustline serve` (RFC 6960 §4.2.2.2: signed by the device CA's delegated responder) for a good,
 * a revoked and an unknown certificate, and refuses them against a foreign CA of the same name; a `gnutls-serv`
 * requiring client certificates (RFC 8446 §4.4.2) with the device CA and its CRL accepts a device,
 * and refuses a revoked one and one from a foreign CA of the same name.
 *
 * Neither tool has an -attime: the home's clock is the real time (15 minutes back), fixed when the file starts; the
 * TLS server's own certificate comes from a throwaway OpenSSL CA, for 2 days.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  createCsr,
  exportCa,
  type GeneratedDevice,
  generateDeviceCertificate,
  type Home,
  type IssuedCertificate,
  issueCrl,
  issueSignerCertificate,
  revokeCertificate,
  type RunningServer,
  startServer,
  toPem,
} from "../../ca/index.js";
import { ecKey, makeHome, reopen, tempDir } from "../helpers/pki.js";
import { freePort, GNUTLS_MISSING, gnutlsAsync, type Run, waitForPort } from "./gnutls.js";
import { opensslOk } from "./openssl.js";

/** Real time, a quarter of an hour back: the revocations a minute later are still in the past for GnuTLS. */
const START = new Date(Math.floor(Date.now() / 1000) * 1000 - 15 * 60_000);

/** "Certificate Status: good" and "Verifying OCSP Response: Success." of `ocsptool --ask`. */
function ocspVerdict(r: Run): { status?: string; verification?: string } {
  const out = r.stdout + r.stderr;
  return {
    ...(/Certificate Status: (\w+)/.exec(out) ? { status: /Certificate Status: (\w+)/.exec(out)![1]! } : {}),
    ...(/Verifying OCSP Response: (.*)$/m.exec(out) ? { verification: /Verifying OCSP Response: (.*)$/m.exec(out)![1]!.trim() } : {}),
  };
}

describe("GnuTLS as referee: OCSP (ocsptool) and TLS client authentication (gnutls-serv)", { skip: GNUTLS_MISSING, timeout: 120_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let home: Home;
  let foreign: Home;
  let server: RunningServer;
  let good: GeneratedDevice;
  let revoked: GeneratedDevice;
  let stranger: GeneratedDevice;
  let signer: IssuedCertificate;
  let now = START.getTime();
  const path = (name: string) => join(t.dir, name);

  before(async () => {
    t = tempDir("trustline-gnutls-wire-");
    const clock = () => new Date(now);
    home = await reopen(await makeHome(t.dir, { clock }), { clock });
    // A foreign home under the same names ("Acme Devices device CA") but other keys: only keys tell them apart.
    foreign = await reopen(await makeHome(join(t.dir, "foreign"), { clock }), { clock });
    writeFileSync(path("root.pem"), await exportCa(home, "root"));
    writeFileSync(path("device-ca.pem"), await exportCa(home, "device"));
    writeFileSync(path("client-cas.pem"), (await exportCa(home, "root")) + (await exportCa(home, "device")));
    writeFileSync(path("foreign-device-ca.pem"), await exportCa(foreign, "device"));
    good = await generateDeviceCertificate(home, "dev-gnutls-good");
    revoked = await generateDeviceCertificate(home, "dev-gnutls-revoked");
    stranger = await generateDeviceCertificate(foreign, "dev-gnutls-stranger");
    signer = await issueSignerCertificate(home, createCsr(ecKey().privateKey, "x"), "ci-pipeline");
    for (const [name, d] of [
      ["good", good],
      ["revoked", revoked],
      ["stranger", stranger],
    ] as const) {
      writeFileSync(path(`${name}.pem`), d.pem);
      writeFileSync(path(`${name}.key`), d.privateKeyPem);
    }
    writeFileSync(path("signer.pem"), signer.pem);
    now += 60_000;
    await revokeCertificate(home, revoked.record.serial, { reason: "keyCompromise" });
    writeFileSync(path("device.crl"), toPem((await issueCrl(home, "device")).der, "X509 CRL"));
    server = await startServer(home, { port: 0 });
  });
  after(async () => {
    await server?.close();
    t?.cleanup();
  });

  describe("ocsptool --ask against trustline serve", () => {
    const ask = (cert: string, trust = "device-ca.pem") =>
      gnutlsAsync("ocsptool", [`--ask=${server.url}/ocsp/device`, "--load-issuer", "device-ca.pem", "--load-cert", cert, "--load-trust", trust], { cwd: t.dir });

    test("good, revoked and unknown certificates: each response verifies, with the right status", async () => {
      for (const [cert, status] of [
        ["good.pem", "good"],
        ["revoked.pem", "revoked"],
        ["stranger.pem", "unknown"], // same issuer name, a serial this device CA never issued
      ] as const) {
        const r = await ask(cert);
        assert.deepEqual(ocspVerdict(r), { status, verification: "Success." }, `${cert}:\n${r.stdout}${r.stderr}`);
        assert.equal(r.status, 0);
      }
    });

    test("refusing case: the same response checked against a foreign CA is not trusted", async () => {
      const r = await ask("good.pem", "foreign-device-ca.pem");
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.deepEqual(ocspVerdict(r), { status: "good", verification: "Failure, Signer cert is not trusted." });
    });
  });

  describe("gnutls-serv requiring client certificates, with the device CA and its CRL", () => {
    let serv: ChildProcess;
    let port: number;

    before(async () => {
      const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
      opensslOk(["req", "-x509", ...ec, "-keyout", path("server-ca.key"), "-out", path("server-ca.pem"), "-subj", "/CN=Interop Throwaway Server CA", "-days", "2"]);
      opensslOk(["req", "-new", ...ec, "-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-addext", "extendedKeyUsage=serverAuth"]);
      opensslOk(["x509", "-req", "-in", path("server.csr"), "-CA", path("server-ca.pem"), "-CAkey", path("server-ca.key"), "-set_serial", "1", "-days", "2", "-copy_extensions", "copyall", "-out", path("server.pem")]);
      port = await freePort();
      serv = spawn(
        "gnutls-serv",
        ["--port", String(port), "--echo", "--x509certfile", "server.pem", "--x509keyfile", "server.key", "--x509cafile", "client-cas.pem", "--x509crlfile", "device.crl", "--require-client-cert", "--verify-client-cert"],
        { cwd: t.dir, stdio: "ignore" },
      );
      await waitForPort(port);
    });
    after(() => {
      serv?.kill();
    });

    test("a device of this CA is accepted: the echo server answers", () => {
      const r = gnutlsWithInput(t.dir, port, "good");
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^hello from good$/m);
    });

    for (const [name, why] of [
      ["revoked", "revoked (listed on the CRL)"],
      ["stranger", "issued by a foreign CA"],
    ] as const) {
      test(`refusing case: a device ${why} is denied`, () => {
        const r = gnutlsWithInput(t.dir, port, name);
        assert.notEqual(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout + r.stderr, /Received alert \[49\]: Access was denied/);
        assert.doesNotMatch(r.stdout, /^hello from/m);
      });
    }
  });
});

/** gnutls-cli as device `name`: sends one line, prints what the echo server returns, then closes. */
function gnutlsWithInput(cwd: string, port: number, name: string): Run {
  const r = spawnSync("gnutls-cli", ["127.0.0.1", "-p", String(port), "--x509cafile", "server-ca.pem", "--x509certfile", `${name}.pem`, "--x509keyfile", `${name}.key`], {
    cwd,
    encoding: "utf8",
    input: `hello from ${name}\n`,
    timeout: 20_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
