/**
 * A CA home whose keys are on a PKCS#11 token (SoftHSM2), judged by OpenSSL: `init --key-store
 * pkcs11:...` makes a hierarchy with no passphrase; device and signer certificates, CRLs, OCSP and
 * firmware signatures made with token keys verify; OpenSSL signs with a token key through libp11
 * and Trustline verifies; the home holds no private key material; a wrong PIN, a missing token and
 * a module that will not load are clear exit-4 errors that leave nothing half made.
 */
import { defaultSessionFile } from "../../cli/credential.js";
import { totpNow } from "../helpers/totp.js";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Home, startServer } from "../../ca/index.js";
import { findPrivateKeyMaterial } from "../helpers/private-key-scan.js";
import { softhsm, type SoftHsm, softhsmModule, TOKEN_PIN } from "../helpers/softhsm.js";
import { runCli, tempDir } from "../helpers/pki.js";
import { childrenOf, startServeProcess } from "../helpers/serve-process.js";
import { expectError, expectOk, json } from "../cli/cli-helpers.js";
import { openssl, opensslAsync, opensslOk } from "./openssl.js";

const module = softhsmModule();

describe("a CA home on a PKCS#11 token (SoftHSM2)", { skip: "skip" in module ? module.skip : false, timeout: 300_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let hsm: SoftHsm;
  let home: string;
  /** Only the token's environment: no passphrase anywhere. */
  let env: Record<string, string>;
  const cli = (args: readonly string[], extraEnv: Record<string, string> = {}) => runCli(["--home", home, "--json", ...args], { env: { ...env, ...extraEnv } });
  const path = (name: string) => join(t.dir, name);

  before(() => {
    t = tempDir("trustline-pkcs11-home-");
    hsm = softhsm((module as { path: string }).path);
    hsm.token("ca-token");
    hsm.token("ci-token");
    env = { ...hsm.env };
    home = path("pki");
  });
  after(() => {
    hsm?.cleanup();
    t?.cleanup();
  });

  test("init --key-store pkcs11:token=ca-token: every key on the token, no passphrase asked", () => {
    const r = cli(["--operator", "alice", "init", "--org", "Acme Devices", "--key-store", "pkcs11:token=ca-token", "--roles", "admin,officer,issuer"]);
    expectOk(r);
    const out = json<{ keyStore: string; auditKeyUri: string; cas: { name: string; keyUri: string }[]; firstAdmin: { otpauthUri: string } }>(r);
    // alice opens a shift session: the home's data key is wrapped by an AES key on the token, so no passphrase here either.
    expectOk(cli(["--operator", "alice", "--station", "line-1", "login", "--totp", totpNow(out.firstAdmin.otpauthUri)]));
    assert.equal(out.keyStore, "pkcs11:token=ca-token");
    assert.match(out.auditKeyUri, /^pkcs11:token=ca-token;object=trustline-audit-[0-9a-f]{6};id=(%[0-9a-f]{2}){16};type=private$/);
    assert.deepEqual(
      out.cas.map((c) => [c.name, /^pkcs11:token=ca-token;object=trustline-([a-z]+)-[0-9a-f]{6};/.exec(c.keyUri)?.[1]]),
      [["root", "root"], ["device", "device"], ["firmware", "firmware"]],
    );
    assert.equal(existsSync(join(home, "keys")), false);
    // The token's keys are sensitive and never extractable (pkcs11-tool is the token's own view).
    const objects = execFileSync("pkcs11-tool", ["--module", hsm.modulePath, "--token-label", "ca-token", "--login", "--pin", TOKEN_PIN, "--list-objects", "--type", "privkey"], { env: { ...process.env, ...env }, encoding: "utf8" });
    const access = [...objects.matchAll(/Access:\s+(.*)/g)].map((m) => m[1]);
    assert.equal(access.length, 4);
    for (const a of access) assert.match(a!, /sensitive, always sensitive, never extractable, local/);
  });

  test("device and signer certificates from token keys: OpenSSL verifies the chains for their purposes", () => {
    opensslOk(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path("dev.key"), "-subj", "/CN=dev-0001", "-out", path("dev.csr")]);
    expectOk(cli(["issue", "device", "--csr", path("dev.csr"), "--out", path("dev.pem")]));
    writeFileSync(path("root.pem"), json<{ pem: string }>(cli(["ca", "export", "root"])).pem);
    writeFileSync(path("device-ca.pem"), json<{ pem: string }>(cli(["ca", "export", "device"])).pem);
    writeFileSync(path("firmware-ca.pem"), json<{ pem: string }>(cli(["ca", "export", "firmware"])).pem);
    opensslOk(["verify", "-x509_strict", "-CAfile", path("root.pem"), "-untrusted", path("device-ca.pem"), "-purpose", "sslclient", path("dev.pem")]);
    assert.notEqual(openssl(["verify", "-CAfile", path("root.pem"), "-untrusted", path("firmware-ca.pem"), path("dev.pem")]).status, 0, "the device certificate must not chain under the firmware CA");
  });

  test("OpenSSL signs a CSR with a token key through libp11; Trustline verifies it, certifies it, and the token key signs firmware that OpenSSL and Trustline verify", () => {
    execFileSync("pkcs11-tool", ["--module", hsm.modulePath, "--token-label", "ci-token", "--login", "--pin", TOKEN_PIN, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "ci-signer", "--id", "01"], { env: { ...process.env, ...env }, stdio: "pipe" });
    const engineConf = path("engine.cnf");
    const engine = ["/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so", "/usr/lib/aarch64-linux-gnu/engines-3/pkcs11.so"].find(existsSync);
    assert.ok(engine, "libp11's OpenSSL engine (libengine-pkcs11-openssl) is installed");
    writeFileSync(engineConf, `openssl_conf = openssl_init\n[openssl_init]\nengines = engine_section\n[engine_section]\npkcs11 = pkcs11_section\n[pkcs11_section]\nengine_id = pkcs11\ndynamic_path = ${engine}\nMODULE_PATH = ${hsm.modulePath}\ninit = 0\n`);
    // The PIN in this URI exists only in this test's argv, for OpenSSL; Trustline refuses pin-value.
    execFileSync("openssl", ["req", "-new", "-engine", "pkcs11", "-keyform", "engine", "-key", `pkcs11:token=ci-token;object=ci-signer;type=private?pin-value=${TOKEN_PIN}`, "-subj", "/CN=ci", "-out", path("ci.csr")], { env: { ...process.env, ...env, OPENSSL_CONF: engineConf }, stdio: "pipe" });
    expectOk(cli(["issue", "signer", "--csr", path("ci.csr"), "--name", "ci-pipeline", "--out", path("ci.pem"), "--chain"]));
    writeFileSync(path("fw.bin"), Buffer.alloc(300_000, 7));
    const signed = runCli(["--json", "firmware", "sign", path("fw.bin"), "--cert", path("ci.pem"), "--key", "pkcs11:token=ci-token;object=ci-signer", "--version", "1.2.0", "--hardware", "tc-100", "--security-version", "4"], { env });
    expectOk(signed);
    opensslOk(["cms", "-verify", "-binary", "-inform", "DER", "-in", path("fw.bin.p7s"), "-content", path("fw.bin"), "-CAfile", path("root.pem"), "-purpose", "any", "-out", "/dev/null"]);
    expectOk(cli(["crl", "--ca", "firmware", "--out", path("firmware.crl")]));
    expectOk(cli(["crl", "--ca", "root", "--out", path("root.crl")]));
    const verified = runCli(["--json", "firmware", "verify", path("fw.bin"), "--signature", path("fw.bin.p7s"), "--trust", path("root.pem"), "--crl", path("firmware.crl"), "--crl", path("root.crl"), "--hardware", "tc-100", "--min-security-version", "4"], { env });
    expectOk(verified);
    // And a signature OpenSSL makes with the token key (libp11) is one Trustline's verifier accepts.
    writeFileSync(path("msg"), "signed by the token through OpenSSL");
    execFileSync("openssl", ["dgst", "-sha256", "-engine", "pkcs11", "-keyform", "engine", "-sign", `pkcs11:token=ci-token;object=ci-signer;type=private?pin-value=${TOKEN_PIN}`, "-out", path("msg.sig"), path("msg")], { env: { ...process.env, ...env, OPENSSL_CONF: engineConf }, stdio: "pipe" });
    opensslOk(["x509", "-in", path("ci.pem"), "-pubkey", "-noout", "-out", path("ci.pub")]);
    opensslOk(["dgst", "-sha256", "-verify", path("ci.pub"), "-signature", path("msg.sig"), path("msg")]);
  });

  test("revocation with token keys: the CRL verifies under OpenSSL and lists the device; OCSP from serve (responder key on the token) says revoked", async () => {
    const serial = opensslOk(["x509", "-in", path("dev.pem"), "-noout", "-serial"]).trim().split("=")[1]!.toLowerCase();
    expectOk(cli(["revoke", serial, "--reason", "keyCompromise"]));
    expectOk(cli(["crl", "--ca", "device", "--out", path("device.crl")]));
    opensslOk(["crl", "-in", path("device.crl"), "-inform", "DER", "-CAfile", path("device-ca.pem"), "-noout"]);
    writeFileSync(path("chain.pem"), readFileSync(path("device-ca.pem"), "utf8") + readFileSync(path("root.pem"), "utf8"));
    opensslOk(["crl", "-in", path("device.crl"), "-inform", "DER", "-out", path("device-crl.pem")]);
    opensslOk(["crl", "-in", path("root.crl"), "-inform", "DER", "-out", path("root-crl.pem")]);
    const refused = openssl(["verify", "-crl_check_all", "-CAfile", path("chain.pem"), "-CRLfile", path("device-crl.pem"), "-CRLfile", path("root-crl.pem"), path("dev.pem")]);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stdout + refused.stderr, /certificate revoked/);

    // The server publishes CRLs (a write): it runs under alice's shift session.
    const session = readFileSync(defaultSessionFile(home), "utf8").trim();
    const live = await Home.open({ home, env, clock: () => new Date(), station: "server", credential: { kind: "session", token: session } });
    const server = await startServer(live, { port: 0 });
    try {
      const asked = await opensslAsync(["ocsp", "-issuer", path("device-ca.pem"), "-cert", path("dev.pem"), "-url", `${server.url}/ocsp/device`, "-CAfile", path("root.pem")], { cwd: t.dir }).done;
      assert.equal(asked.status, 0, asked.stderr);
      assert.match(asked.stdout, /: revoked/);
      assert.match(asked.stderr + asked.stdout, /Response verify OK/);
    } finally {
      await server.close();
      await live.close();
    }
    const state = JSON.parse(readFileSync(join(home, "state.json"), "utf8")) as { responders?: Record<string, { keyUri: string }> };
    assert.ok(Object.values(state.responders ?? {}).every((r) => r.keyUri.startsWith("pkcs11:token=ca-token;")), JSON.stringify(state.responders));
  });

  test("serve --workers 2 on the token home, the PIN in the environment: workers sign OCSP with the token key, and none holds the PIN in its environment", async () => {
    const { TRUSTLINE_PKCS11_PIN_FILE: _file, ...withoutPinFile } = env;
    const server = await startServeProcess(["--home", home], ["--workers", "2"], { PATH: process.env.PATH ?? "", ...withoutPinFile, TRUSTLINE_PKCS11_PIN: TOKEN_PIN });
    try {
      const url = server.url;
      for (let i = 0; i < 4; i++) {
        const asked = await opensslAsync(["ocsp", "-issuer", path("device-ca.pem"), "-cert", path("dev.pem"), "-url", `${url}/ocsp/device`, "-CAfile", path("root.pem")], { cwd: t.dir }).done;
        assert.match(asked.stdout, /: revoked/, asked.stdout + asked.stderr + server.stderr());
        assert.match(asked.stderr + asked.stdout, /Response verify OK/);
      }
      const workers = childrenOf(server.process.pid!);
      assert.equal(workers.length, 2, `two workers: ${server.stderr()}`);
      for (const pid of workers) {
        const environ = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
        assert.ok(!environ.some((e) => e.startsWith("TRUSTLINE_PKCS11_PIN=") || e.includes(TOKEN_PIN)), `worker ${pid} holds the PIN in its environment`);
      }
    } finally {
      await server.stop();
    }
  });

  test("no private key material anywhere in the home", () => {
    assert.deepEqual(findPrivateKeyMaterial(home), []);
  });

  test("a wrong PIN: exit 4 AUTH_REQUIRED (wrong-pin), nothing issued, the audit trail intact", () => {
    const wrongPin = path("wrong-pin");
    writeFileSync(wrongPin, "0000\n");
    const before = json<unknown[]>(cli(["cert", "list"])).length;
    const e = expectError(cli(["issue", "device", "--csr", path("dev.csr"), "--out", path("dev2.pem")], { TRUSTLINE_PKCS11_PIN_FILE: wrongPin }), 4, "AUTH_REQUIRED");
    assert.equal(e.details?.reason, "wrong-pin");
    assert.match(e.message, /refused the PIN/);
    assert.doesNotMatch(e.message, /0000/);
    assert.equal(json<unknown[]>(cli(["cert", "list"])).length, before);
    assert.equal(existsSync(path("dev2.pem")), false);
    expectOk(cli(["audit", "verify"]));
  });

  test("init with a wrong PIN, a missing token, or a module that will not load: exit 4, no home and no staging left; pin-value in a URI is refused (exit 2)", () => {
    const wrongPin = path("wrong-pin");
    const attempt = (name: string, args: readonly string[], extraEnv: Record<string, string>, status: number, code: string) => {
      const target = path(name);
      const r = runCli(["--home", target, "--json", "init", "--org", "Acme Devices", ...args], { env: { ...env, ...extraEnv } });
      const e = expectError(r, status, code);
      assert.equal(existsSync(target), false);
      assert.deepEqual(readdirSync(dirname(target)).filter((f) => f.startsWith(`.${name}.init-`)), []);
      return e;
    };
    const pin = attempt("h-pin", ["--key-store", "pkcs11:token=ca-token"], { TRUSTLINE_PKCS11_PIN_FILE: wrongPin }, 4, "AUTH_REQUIRED");
    assert.equal(pin.details?.reason, "wrong-pin");
    const token = attempt("h-token", ["--key-store", "pkcs11:token=no-such-token"], {}, 4, "KEY_UNAVAILABLE");
    assert.match(token.message, /no PKCS#11 token labelled "no-such-token".*tokens present: .*"ca-token"/);
    const mod = attempt("h-module", ["--key-store", "pkcs11:token=ca-token"], { TRUSTLINE_PKCS11_MODULE: path("no-such-module.so") }, 4, "KEY_UNAVAILABLE");
    assert.match(mod.message, /will not load.*TRUSTLINE_PKCS11_MODULE/);
    const secret = attempt("h-secret", ["--key-store", "pkcs11:token=ca-token?pin-value=1234"], {}, 2, "USAGE");
    assert.match(secret.message, /pin-value would store the PIN/);
    assert.doesNotMatch(secret.message, /1234/);
  });
});
