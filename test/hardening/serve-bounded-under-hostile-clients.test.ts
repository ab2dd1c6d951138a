/**
 * `trustline serve` holds a bounded amount for any client: the OCSP response cache is bounded in
 * bytes (a flood of distinct requests evicts instead of growing), requests are bounded in size and
 * asking about too many certificates, slow headers are cut off, and connections are capped. Traffic
 * goes to 127.0.0.1 only, in bounded loops.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { exportCa, generateDeviceCertificate, type Home, type RunningServer, startServer } from "../../ca/index.js";
import { makeHome, reopen, tempDir } from "../helpers/pki.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("serve under hostile clients", () => {
  let t: { dir: string; cleanup: () => void };
  let live: Home;
  let server: RunningServer;
  let request: Buffer;
  const CACHE = 256 * 1024;

  before(async () => {
    t = tempDir("trustline-serve-limits-");
    const home = await makeHome(t.dir);
    live = await reopen(home, { clock: () => new Date() });
    const device = await generateDeviceCertificate(live, "dev-limits-01");
    writeFileSync(join(t.dir, "dev.pem"), device.pem);
    writeFileSync(join(t.dir, "device-ca.pem"), await exportCa(live, "device"));
    execFileSync("openssl", ["ocsp", "-issuer", join(t.dir, "device-ca.pem"), "-cert", join(t.dir, "dev.pem"), "-no_nonce", "-reqout", join(t.dir, "req.der")]);
    request = readFileSync(join(t.dir, "req.der"));
    server = await startServer(live, { port: 0, limits: { cacheBytes: CACHE, headersTimeoutMs: 1_000, requestTimeoutMs: 3_000, maxConnections: 32 } });
  });
  after(async () => {
    await server.close();
    t.cleanup();
  });

  const post = (body: Uint8Array) => fetch(`${server.url}/ocsp/device`, { method: "POST", body, headers: { "Content-Type": "application/ocsp-request" } });

  test("RFC 6960: 3,000 distinct requests (random serials) leave the response cache within its byte bound", async () => {
    let answered = 0;
    // Six at a time: well within the server's connection cap in this test (32).
    for (let i = 0; i < 3_000; i += 6) {
      await Promise.all(
        Array.from({ length: 6 }, async (_, j) => {
          const distinct = Buffer.from(request);
          distinct.writeUInt32BE(i + j + 1, distinct.length - 4); // the serial's last bytes: a new CertID
          const r = await post(distinct).catch((e: Error) => assert.fail(`request ${i + j}: ${e.message}: ${String((e.cause as Error)?.message ?? e.cause)}`));
          assert.equal(r.status, 200);
          await r.arrayBuffer();
          answered++;
        }),
      );
      assert.ok(server.responder.cacheBytes <= CACHE, `cache holds ${server.responder.cacheBytes} bytes`);
    }
    assert.equal(answered, 3_000);
    assert.ok(server.responder.cacheBytes > CACHE / 2, "the cache is used, up to its bound");
  });

  test("an oversized POST is answered 413 at once and the connection closed, without reading the body", async () => {
    const socket = connect(server.port, "127.0.0.1");
    socket.on("error", () => undefined); // the server resets the connection: that is the point
    await new Promise((r) => socket.once("connect", r));
    let reply = "";
    socket.on("data", (c: Buffer) => (reply += c.toString("latin1")));
    const closed = new Promise((r) => socket.once("close", r));
    socket.write(`POST /ocsp/device HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`);
    socket.write(Buffer.alloc(64 * 1024)); // the first of 100 MB that will never be read
    await Promise.race([closed, sleep(5_000)]);
    assert.match(reply, /^HTTP\/1\.1 413 /);
    assert.equal(socket.destroyed || socket.readyState === "closed", true);
  });

  test("a request naming more than 64 certificates is a malformedRequest, not work for each", async () => {
    // OCSPRequest { TBSRequest { requestList: 65 copies of the one Request } }
    const one = innerRequest(request);
    const list = Buffer.concat(Array.from({ length: 65 }, () => one));
    const der = seq(seq(seq(list)));
    const r = await post(der);
    assert.deepEqual([...new Uint8Array(await r.arrayBuffer())], [0x30, 0x03, 0x0a, 0x01, 0x01]);
  });

  test("a client that sends half a request line and waits is cut off after the headers timeout", async () => {
    const socket = connect(server.port, "127.0.0.1");
    socket.on("error", () => undefined);
    await new Promise((r) => socket.once("connect", r));
    let reply = "";
    socket.on("data", (c: Buffer) => (reply += c.toString("latin1")));
    const closed = new Promise((r) => socket.once("close", r));
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"); // and never the blank line
    const started = Date.now();
    await Promise.race([closed, sleep(8_000)]);
    assert.match(reply, /^HTTP\/1\.1 408 /);
    assert.ok(socket.destroyed || socket.readyState === "closed", "closed by the server");
    assert.ok(Date.now() - started < 6_000, `${Date.now() - started} ms`);
  });

  test("connections beyond the cap are refused; the server answers again once they go", async () => {
    const sockets: Socket[] = [];
    const closedByServer = { count: 0 };
    for (let i = 0; i < 80; i++) {
      const s = connect(server.port, "127.0.0.1");
      s.on("error", () => undefined);
      s.on("close", () => closedByServer.count++);
      sockets.push(s);
    }
    await sleep(1_000);
    // Node accepts and at once closes every connection past the cap.
    assert.ok(closedByServer.count >= 80 - 32, `${closedByServer.count} of 80 closed`);
    for (const s of sockets) s.destroy();
    await sleep(200);
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
  });
});

function header(tag: number, length: number): Buffer {
  if (length < 0x80) return Buffer.from([tag, length]);
  if (length < 0x100) return Buffer.from([tag, 0x81, length]);
  if (length < 0x10000) return Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  return Buffer.from([tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]);
}
const seq = (content: Buffer) => Buffer.concat([header(0x30, content.length), content]);

/** The first Request of an OCSPRequest made without extensions: tbsRequest.requestList[0]. */
function innerRequest(der: Buffer): Buffer {
  const skip = (at: number) => {
    const len = der[at + 1]!;
    return len < 0x80 ? at + 2 : at + 2 + (len & 0x7f);
  };
  const tbs = skip(0);
  const list = skip(tbs);
  const first = skip(list);
  const len = der[first + 1]!;
  const total = len < 0x80 ? 2 + len : 2 + (len & 0x7f) + der.readUIntBE(first + 2, len & 0x7f);
  return der.subarray(first, first + total);
}
