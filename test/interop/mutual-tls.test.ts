/**
 * Device certificates in a real mutual-TLS handshake (RFC 8446 §4.4.2 client authentication,
 * RFC 5280 §6.1 path validation by OpenSSL inside node:tls). The server's own certificate comes
 * from a throwaway CA made by OpenSSL; the server trusts our root + device CA for clients.
 *
 * Real time is used here (TLS has no -attime): the device certificates start at FIXED_NOW
 * (2026-03-01) and last ~10 years; the server's certificate is made by OpenSSL now, for 2 days.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import { exportCa, type GeneratedDevice, generateDeviceCertificate } from "../../ca/index.js";
import { makeHome, tempDir } from "../helpers/pki.js";
import { opensslAsync, opensslOk } from "./openssl.js";

/** What the server's connection handler saw. */
interface ServerSide {
  readonly authorized: boolean;
  readonly authorizationError: string | null;
  readonly subjectCN: string | undefined;
  readonly issuerCN: string | undefined;
  readonly fingerprint256: string | undefined;
}

interface Attempt {
  /** What the client read before the connection closed (the server greets every device it accepts). */
  readonly received: string;
  readonly secureConnect: boolean;
  readonly clientError: (Error & { code?: string }) | undefined;
}

type TlsError = Error & { code?: string };

/** getPeerCertificate() gives an attribute as an array when the name repeats it. */
function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(" + ") : value;
}

/** The OpenSSL-made server identity: a throwaway CA and a serverAuth certificate for 127.0.0.1/localhost. */
function makeServerIdentity(dir: string): { caPath: string; keyPath: string; certPath: string } {
  const caKey = join(dir, "server-ca.key");
  const caPath = join(dir, "server-ca.pem");
  const keyPath = join(dir, "server.key");
  const csrPath = join(dir, "server.csr");
  const certPath = join(dir, "server.pem");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  opensslOk(["req", "-x509", ...ec, "-keyout", caKey, "-out", caPath, "-subj", "/CN=Interop Throwaway Server CA", "-days", "2"]);
  opensslOk([
    "req", "-new", ...ec, "-keyout", keyPath, "-out", csrPath, "-subj", "/CN=localhost",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-addext", "extendedKeyUsage=serverAuth",
    "-addext", "keyUsage=critical,digitalSignature",
    "-addext", "basicConstraints=critical,CA:FALSE",
  ]);
  opensslOk(["x509", "-req", "-in", csrPath, "-CA", caPath, "-CAkey", caKey, "-set_serial", "1", "-days", "2", "-copy_extensions", "copyall", "-out", certPath]);
  return { caPath, keyPath, certPath };
}

/** A TLS server on 127.0.0.1:0 that records what it sees and greets each accepted client by CN. */
async function startServer(options: tls.TlsOptions): Promise<{ server: tls.Server; port: number; seen: ServerSide[]; errors: TlsError[] }> {
  const seen: ServerSide[] = [];
  const errors: TlsError[] = [];
  const server = tls.createServer(options, (socket) => {
    const peer = socket.getPeerCertificate();
    const side: ServerSide = {
      authorized: socket.authorized,
      authorizationError: socket.authorizationError == null ? null : String(socket.authorizationError),
      subjectCN: one(peer.subject?.CN),
      issuerCN: one(peer.issuer?.CN),
      fingerprint256: peer.fingerprint256,
    };
    seen.push(side);
    socket.on("error", () => {}); // a client hanging up is not the server's failure
    socket.on("end", () => socket.end()); // the client says goodbye first: both sides close cleanly
    socket.write(`hello ${side.subjectCN}\n`);
  });
  server.on("tlsClientError", (e: TlsError) => errors.push(e));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, seen, errors };
}

/** Connect as a client; ends after the greeting line; resolves when the connection is closed, however it ends. */
function connect(port: number, serverCa: string, client: { key?: string; cert?: string }): Promise<Attempt> {
  return new Promise((resolve) => {
    let received = "";
    let secureConnect = false;
    let clientError: TlsError | undefined;
    const socket = tls.connect({ host: "127.0.0.1", port, ca: serverCa, ...client });
    socket.setEncoding("utf8");
    socket.on("secureConnect", () => (secureConnect = true));
    socket.on("data", (d: string) => {
      received += d;
      if (received.endsWith("\n")) socket.end();
    });
    socket.on("error", (e: TlsError) => (clientError ??= e));
    socket.on("close", () => resolve({ received, secureConnect, clientError }));
  });
}

describe("mutual TLS with a Trustline device certificate", () => {
  const cleanups: (() => void)[] = [];
  const servers: tls.Server[] = [];
  let dir: string;
  let serverCa: string;
  let serverOptions: tls.TlsOptions;
  let device: GeneratedDevice;
  let foreign: GeneratedDevice;
  let strict: Awaited<ReturnType<typeof startServer>>;

  before(async () => {
    const t = tempDir("trustline-interop-mtls-");
    cleanups.push(t.cleanup);
    dir = t.dir;
    const home = await makeHome(dir);
    device = await generateDeviceCertificate(home, "dev-0042");

    // A second home with the same organisation, so its CAs carry exactly the same names as ours.
    const other = tempDir("trustline-interop-mtls-foreign-");
    cleanups.push(other.cleanup);
    const foreignHome = await makeHome(other.dir);
    foreign = await generateDeviceCertificate(foreignHome, "dev-0042");

    const identity = makeServerIdentity(dir);
    serverCa = readFileSync(identity.caPath, "utf8");
    serverOptions = {
      key: readFileSync(identity.keyPath),
      cert: readFileSync(identity.certPath),
      ca: [await exportCa(home, "root"), await exportCa(home, "device")],
      requestCert: true,
    };
    strict = await startServer({ ...serverOptions, rejectUnauthorized: true });
    servers.push(strict.server);

    writeFileSync(join(dir, "dev.pem"), device.pem);
    writeFileSync(join(dir, "dev.key"), device.privateKeyPem);
    writeFileSync(join(dir, "dev-chain.pem"), device.chain.join(""));
  });

  after(async () => {
    for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
    for (const c of cleanups) c();
  });

  test("RFC 8446 §4.4.2 / RFC 5280 §6.1: a device presenting its certificate + chain completes mutual TLS; the server sees CN dev-0042, authorized", async () => {
    const seenBefore = strict.seen.length;
    const errorsBefore = strict.errors.length;
    const attempt = await connect(strict.port, serverCa, { key: device.privateKeyPem, cert: device.pem + device.chain.join("") });
    assert.deepEqual(attempt, { received: "hello dev-0042\n", secureConnect: true, clientError: undefined });
    assert.deepEqual(strict.seen.slice(seenBefore), [
      {
        authorized: true,
        authorizationError: null,
        subjectCN: "dev-0042",
        issuerCN: "Acme Devices device CA",
        fingerprint256: new X509Certificate(device.pem).fingerprint256,
      },
    ]);
    assert.equal(strict.errors.length, errorsBefore);
    assert.equal(device.chain.length, 1, "the chain is the device CA alone (the root is the server's trust anchor)");
  });

  test("RFC 5280 §6.1: a device from a foreign home (identically named CAs) is refused by the rejectUnauthorized server", async () => {
    const seenBefore = strict.seen.length;
    const errorsBefore = strict.errors.length;
    const attempt = await connect(strict.port, serverCa, { key: foreign.privateKeyPem, cert: foreign.pem + foreign.chain.join("") });
    // TLS 1.3: the client finishes its side before the server has judged its certificate; the
    // server then drops the connection without a word, so the client reads nothing at all.
    assert.equal(attempt.received, "", "no application data reaches a refused device");
    assert.equal(attempt.clientError, undefined);
    assert.deepEqual(strict.seen.slice(seenBefore), [], "the server's connection handler never ran");
    assert.equal(strict.errors.length, errorsBefore + 1);
    const refusal = strict.errors[errorsBefore]!;
    assert.equal(refusal.code, "ECONNRESET");
    assert.equal(refusal.message, "socket hang up");
  });

  test("RFC 5280 §6.1 why: with rejectUnauthorized off, the server's verdict is authorized=true for ours, UNABLE_TO_GET_ISSUER_CERT_LOCALLY for the foreign device", async () => {
    const lenient = await startServer({ ...serverOptions, rejectUnauthorized: false });
    servers.push(lenient.server);
    const ours = await connect(lenient.port, serverCa, { key: device.privateKeyPem, cert: device.pem + device.chain.join("") });
    const theirs = await connect(lenient.port, serverCa, { key: foreign.privateKeyPem, cert: foreign.pem + foreign.chain.join("") });
    assert.equal(ours.received, "hello dev-0042\n");
    assert.equal(theirs.received, "hello dev-0042\n");
    assert.deepEqual(
      lenient.seen.map((s) => [s.subjectCN, s.authorized, s.authorizationError, s.fingerprint256]),
      [
        ["dev-0042", true, null, new X509Certificate(device.pem).fingerprint256],
        ["dev-0042", false, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", new X509Certificate(foreign.pem).fingerprint256],
      ],
    );
    assert.deepEqual(lenient.errors, []);
  });

  test("RFC 8446 §4.4.2: a client without a certificate is refused (certificate_required alert)", async () => {
    const seenBefore = strict.seen.length;
    const errorsBefore = strict.errors.length;
    const attempt = await connect(strict.port, serverCa, {});
    assert.equal(attempt.received, "");
    assert.equal(attempt.clientError?.code, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
    assert.equal(strict.seen.length, seenBefore);
    assert.deepEqual(
      strict.errors.slice(errorsBefore).map((e) => e.code),
      ["ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"],
    );
  });

  test("RFC 8446 §4.4.2 with openssl s_client as the device: -cert/-key/-cert_chain complete the handshake, the server sees dev-0042", async () => {
    const seenBefore = strict.seen.length;
    const run = opensslAsync(
      [
        "s_client",
        "-connect", `127.0.0.1:${strict.port}`,
        "-cert", "dev.pem",
        "-key", "dev.key",
        "-cert_chain", "dev-chain.pem",
        "-CAfile", "server-ca.pem",
        "-verify_return_error",
        "-verify_ip", "127.0.0.1",
        "-brief",
      ],
      { cwd: dir, onStdout: (out, endStdin) => out.endsWith("\n") && endStdin() },
    );
    const timer = setTimeout(run.kill, 10_000);
    const r = await run.done;
    clearTimeout(timer);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "hello dev-0042\n");
    assert.match(r.stderr, /^CONNECTION ESTABLISHED$/m);
    assert.match(r.stderr, /^Protocol version: TLSv1\.3$/m);
    assert.match(r.stderr, /^Peer certificate: CN = localhost$/m);
    assert.match(r.stderr, /^Verification: OK$/m, "the server's certificate matched -verify_ip 127.0.0.1");
    assert.match(r.stderr, /^DONE$/m);
    assert.deepEqual(strict.seen.slice(seenBefore), [
      {
        authorized: true,
        authorizationError: null,
        subjectCN: "dev-0042",
        issuerCN: "Acme Devices device CA",
        fingerprint256: new X509Certificate(device.pem).fingerprint256,
      },
    ]);
  });
});
