/**
 * What the EST server will do with these functions, end to end over real TLS: a node TLS server
 * with tlsServerIdentity's key, certificate and chain, requiring client certificates that chain
 * to the root, asks identifyStation about each peer. A station's key and chain as `station add`
 * hands them out get in; a device certificate passes TLS but is "not-a-station"; a disabled station
 * is refused. OpenSSL's s_client checks the server's name and purpose as a station would.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, createServer, type Server, type TLSSocket } from "node:tls";
import { addStation, disableStation, enableStation, generateDeviceCertificate, type Home, identifyStation, issueTlsCertificate, tlsServerIdentity } from "../../ca/index.js";
import { makeHome, reopen, tempDir } from "../helpers/pki.js";
import { gnutlsAsync } from "./gnutls.js";

describe("mutual TLS with the EST server's identity and station certificates", { timeout: 60_000 }, () => {
  const t = tempDir("trustline-station-tls-");
  const clock = () => new Date(Date.now() - 60_000); // a minute back: the certificates are valid now
  let home: Home;
  let server: Server;
  let port: number;
  let root: string;

  before(async () => {
    home = await reopen(await makeHome(t.dir, { clock }), { clock });
    await issueTlsCertificate(home, { hosts: ["est.acme.example", "127.0.0.1"] });
    const identity = await tlsServerIdentity(home);
    root = identity.chainPem.at(-1)!;
    server = createServer({
      // node 20's TLS options take the key as PEM or DER bytes, not a KeyObject: exported in memory.
      key: identity.key.export({ format: "pem", type: "pkcs8" }),
      cert: identity.certificatePem + identity.chainPem.slice(0, -1).join(""),
      ca: [root],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
    });
    server.on("secureConnection", (socket: TLSSocket) => {
      const peer = socket.getPeerCertificate();
      void identifyStation(home, new Uint8Array(peer.raw), new Date()).then((verdict) => socket.end(`${JSON.stringify(verdict.ok ? { ok: true, station: verdict.station.name } : verdict)}\n`));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server?.close();
    await home.close();
    t.cleanup();
  });

  async function ask(key: string, cert: string): Promise<unknown> {
    const socket = connect({ host: "127.0.0.1", port, servername: "est.acme.example", key, cert, ca: [root] });
    let text = "";
    socket.setEncoding("utf8").on("data", (d: string) => (text += d));
    await once(socket, "end");
    assert.equal(socket.authorized, true, String(socket.authorizationError));
    return JSON.parse(text);
  }

  test("a station's key and chain get in; disabled it is refused; a device certificate is not a station's", async () => {
    const station = await addStation(home, "line-7");
    const chain = station.certificatePem + station.chainPem.slice(0, -1).join("");
    assert.deepEqual(await ask(station.privateKeyPem, chain), { ok: true, station: "line-7" });
    await disableStation(home, "line-7");
    assert.deepEqual(await ask(station.privateKeyPem, chain), { ok: false, reason: "disabled", station: "line-7" });
    await enableStation(home, "line-7");
    const device = await generateDeviceCertificate(home, "dev-0001");
    assert.deepEqual(await ask(device.privateKeyPem, device.pem + device.chain.join("")), { ok: false, reason: "not-a-station" });
  });

  test("openssl s_client, as station line-8: the server's certificate verifies for est.acme.example, not for another name", async () => {
    const station = await addStation(home, "line-8");
    writeFileSync(join(t.dir, "root.pem"), root);
    writeFileSync(join(t.dir, "line-8.key"), station.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(t.dir, "line-8-chain.pem"), station.certificatePem + station.chainPem.join(""));
    const run = (name: string) =>
      gnutlsAsync("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", name, "-verify_hostname", name, "-verify_return_error", "-CAfile", join(t.dir, "root.pem"), "-cert", join(t.dir, "line-8-chain.pem"), "-key", join(t.dir, "line-8.key"), "-ign_eof"], { input: "" });
    const ok = await run("est.acme.example");
    assert.match(ok.stdout + ok.stderr, /Verify return code: 0 \(ok\)/);
    assert.match(ok.stdout, /Verified peername: est\.acme\.example/);
    const wrong = await run("other.acme.example");
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stdout + wrong.stderr, /hostname mismatch/);
  });
});
