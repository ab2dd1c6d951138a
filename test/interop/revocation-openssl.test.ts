/**
 * OpenSSL as referee for revocation: the CRLs Trustline signs verify with `openssl crl` and make
 * `openssl verify -crl_check` refuse revoked certificates (RFC 5280 §5, §6.3); the OCSP responder
 * behind `trustline serve` answers `openssl ocsp` (RFC 6960) over POST and GET, echoes nonces
 * (RFC 8954), signs with a delegated responder certificate, follows revocations within a second,
 * and answers malformed requests with malformedRequest while it keeps serving.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  exportCa,
  generateDeviceCertificate,
  type Home,
  type IssuedCertificate,
  issueCrl,
  parseCrl,
  revokeCertificate,
  type RunningServer,
  startServer,
  toPem,
  verifyCrlSignature,
} from "../../ca/index.js";
import { FIXED_NOW, makeHome, reopen, tempDir } from "../helpers/pki.js";
import { ATTIME, extension, extensions, keyId, openssl, opensslAsync, opensslDate, type Run, x509Field, x509Text } from "./openssl.js";
import { kids, tlvAt } from "../helpers/independent-der.js";

const HOUR = 3_600_000;
/** The OCSPResponse OpenSSL and RFC 6960 §4.2.1 expect for a malformed request: SEQUENCE { ENUMERATED 1 }. */
const MALFORMED_REQUEST = "30030a0101";

// ---------------------------------------------------------------------------------------------
// A tiny DER reader, to read OCSP responses without trusting the code under test.


/** OCSPResponseStatus and, when successful, the first SingleResponse's certStatus. */
function ocspStatus(resp: Uint8Array): { responseStatus: number; certStatus?: "good" | "revoked" | "unknown" } {
  const [status, responseBytes] = kids(resp, tlvAt(resp, 0));
  const responseStatus = resp[status!.contentStart]!;
  if (!responseBytes) return { responseStatus };
  const octet = kids(resp, kids(resp, responseBytes)[0]!)[1]!;
  const basic = resp.subarray(octet.contentStart, octet.end);
  const tbs = kids(basic, tlvAt(basic, 0))[0]!;
  const responses = kids(basic, tbs).find((x) => x.tag === 0x30)!;
  const single = kids(basic, responses)[0]!;
  const tag = kids(basic, single)[1]!.tag;
  return { responseStatus, certStatus: tag === 0x80 ? "good" : tag === 0xa1 ? "revoked" : "unknown" };
}

// ---------------------------------------------------------------------------------------------

/** The "Revoked Certificates:" section of `openssl crl -text`, by serial (upper-case hex). */
function revokedEntries(text: string): Map<string, { date: string; reason?: string; invalidity?: string; lines: string[] }> {
  const out = new Map<string, { date: string; reason?: string; invalidity?: string; lines: string[] }>();
  const section = text.split("\nRevoked Certificates:\n")[1];
  if (!section) return out;
  for (const block of section.split(/^ {4}Serial Number: /m).slice(1)) {
    const lines = block.split("\n");
    const serial = lines[0]!.trim();
    const body = lines.slice(1).filter((l) => l.startsWith("        ")).map((l) => l.trim());
    const after = (label: string) => {
      const i = body.indexOf(label);
      return i >= 0 ? body[i + 1] : undefined;
    };
    out.set(serial, {
      date: body.find((l) => l.startsWith("Revocation Date: "))!.slice("Revocation Date: ".length),
      ...(after("X509v3 CRL Reason Code:") ? { reason: after("X509v3 CRL Reason Code:")! } : {}),
      ...(after("Invalidity Date:") ? { invalidity: after("Invalidity Date:")! } : {}),
      lines: body,
    });
  }
  return out;
}

/** The value line following `label` in OpenSSL text output (e.g. "X509v3 CRL Number:"). */
function valueAfter(text: string, label: string): string | undefined {
  const lines = text.split("\n").map((l) => l.trim());
  const i = lines.indexOf(label);
  return i >= 0 ? lines[i + 1] : undefined;
}

/** The hex after "OCSP Nonce:" in -req_text / -resp_text output. */
function nonceHex(text: string): string | undefined {
  return /OCSP Nonce: ?\n\s+([0-9A-F]+)\n/.exec(text)?.[1];
}

const upper = (serial: string) => serial.toUpperCase();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("revocation, with OpenSSL as referee", { timeout: 120_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let home: Home;
  let now = FIXED_NOW.getTime();
  const devices: Record<string, IssuedCertificate> = {};
  const path = (name: string) => join(t.dir, name);
  /** `openssl verify -attime T` in the test folder (CRL times are those of the fixed clock). */
  const verify = (args: readonly string[]) => openssl(["verify", "-attime", ATTIME, ...args], { cwd: t.dir });
  /** Write CAs + CRLs as one PEM bundle for -CAfile. */
  const bundle = (name: string, ...parts: string[]) => writeFileSync(path(name), parts.join(""));

  before(async () => {
    t = tempDir("trustline-revocation-interop-");
    const base = await makeHome(t.dir);
    home = await reopen(base, { clock: () => new Date(now) });
    writeFileSync(path("root.pem"), await exportCa(home, "root"));
    writeFileSync(path("device-ca.pem"), await exportCa(home, "device"));
    writeFileSync(path("chain.pem"), readFileSync(path("root.pem"), "utf8") + readFileSync(path("device-ca.pem"), "utf8"));
    for (const id of ["good", "bad", "held", "unspec", "superseded", "later"]) {
      devices[id] = await generateDeviceCertificate(home, `dev-${id}`);
      writeFileSync(path(`${id}.pem`), devices[id]!.pem);
    }
    now = FIXED_NOW.getTime() + 2 * HOUR;
    await revokeCertificate(home, devices.bad!.record.serial, { reason: "keyCompromise", invalidityDate: new Date(FIXED_NOW.getTime() + HOUR) });
    await revokeCertificate(home, devices.held!.record.serial, { reason: "certificateHold" });
    await revokeCertificate(home, devices.unspec!.record.serial, { reason: "unspecified" });
    await revokeCertificate(home, devices.superseded!.record.serial, { reason: "superseded" });
    const crl = await issueCrl(home, "device");
    assert.equal(crl.crlNumber, 1);
    writeFileSync(path("device-1.crl"), crl.der);
    writeFileSync(path("device-1.crl.pem"), toPem(crl.der, "X509 CRL"));
    const rootCrl = await issueCrl(home, "root");
    writeFileSync(path("root.crl"), rootCrl.der);
    writeFileSync(path("root.crl.pem"), toPem(rootCrl.der, "X509 CRL"));
  });
  after(() => t?.cleanup());

  test("RFC 5280 §6.3.3: openssl crl -CAfile <root + device CA> verifies the device CA's CRL ('verify OK'), the root's too", () => {
    const r = openssl(["crl", "-inform", "DER", "-in", "device-1.crl", "-CAfile", "chain.pem", "-noout"], { cwd: t.dir });
    assert.deepEqual([r.status, r.stdout, r.stderr], [0, "", "verify OK\n"]);
    const root = openssl(["crl", "-inform", "DER", "-in", "root.crl", "-CAfile", "root.pem", "-noout"], { cwd: t.dir });
    assert.deepEqual([root.status, root.stdout, root.stderr], [0, "", "verify OK\n"]);
    // Without the device CA, OpenSSL finds no issuer for it; with a flipped signature bit, it says so.
    const noIssuer = openssl(["crl", "-inform", "DER", "-in", "device-1.crl", "-CAfile", "root.pem", "-noout"], { cwd: t.dir });
    assert.equal(noIssuer.status, 1);
    assert.match(noIssuer.stderr, /^Error getting CRL issuer certificate$/m);
    const tampered = Uint8Array.from(readFileSync(path("device-1.crl")));
    tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 0x01;
    writeFileSync(path("tampered.crl"), tampered);
    const bad = openssl(["crl", "-inform", "DER", "-in", "tampered.crl", "-CAfile", "chain.pem", "-noout"], { cwd: t.dir });
    assert.equal(bad.stderr, "verify failure\n");
  });

  test("RFC 5280 §5.2.1 / §5.2.3 / §5.3.1: openssl crl -text shows the CRL number, the AKI = device CA SKI, dates and reason codes", () => {
    const text = openssl(["crl", "-inform", "DER", "-in", "device-1.crl", "-noout", "-text"], { cwd: t.dir }).stdout;
    assert.match(text, /^ {8}Version 2 \(0x1\)$/m);
    assert.match(text, /^ {8}Signature Algorithm: ecdsa-with-SHA256$/m);
    assert.ok(text.includes(`        Issuer: ${x509Field(path("device-ca.pem"), "-subject")}\n`), text);
    assert.ok(text.includes(`        Last Update: ${opensslDate(new Date(FIXED_NOW.getTime() + 2 * HOUR))}\n`), text);
    assert.ok(text.includes(`        Next Update: ${opensslDate(new Date(FIXED_NOW.getTime() + 2 * HOUR + 7 * 24 * HOUR))}\n`), text);
    assert.equal(valueAfter(text, "X509v3 CRL Number:"), "1");
    assert.equal(valueAfter(text, "X509v3 Authority Key Identifier:"), keyId(x509Text(path("device-ca.pem")), "X509v3 Subject Key Identifier"));
    const revokedAt = opensslDate(new Date(FIXED_NOW.getTime() + 2 * HOUR));
    const entries = revokedEntries(text);
    assert.deepEqual([...entries.keys()].sort(), ["bad", "held", "unspec", "superseded"].map((id) => upper(devices[id]!.record.serial)).sort());
    assert.deepEqual(entries.get(upper(devices.bad!.record.serial)), {
      date: revokedAt,
      reason: "Key Compromise",
      invalidity: opensslDate(new Date(FIXED_NOW.getTime() + HOUR)),
      lines: [`Revocation Date: ${revokedAt}`, "CRL entry extensions:", "X509v3 CRL Reason Code:", "Key Compromise", "Invalidity Date:", opensslDate(new Date(FIXED_NOW.getTime() + HOUR))],
    });
    assert.equal(entries.get(upper(devices.held!.record.serial))?.reason, "Certificate Hold");
    assert.equal(entries.get(upper(devices.superseded!.record.serial))?.reason, "Superseded");
    // unspecified: no entry extensions at all (RFC 5280 §5.3.1: the reason code SHOULD be absent).
    assert.deepEqual(entries.get(upper(devices.unspec!.record.serial))?.lines, [`Revocation Date: ${revokedAt}`]);
  });

  test("RFC 5280 §6.3: openssl verify -crl_check refuses the revoked device (error 23) and accepts a good one", () => {
    bundle("trust-1.pem", readFileSync(path("chain.pem"), "utf8"), readFileSync(path("device-1.crl.pem"), "utf8"));
    const good = verify(["-crl_check", "-CAfile", "trust-1.pem", "good.pem"]);
    assert.deepEqual([good.status, good.stdout, good.stderr], [0, "good.pem: OK\n", ""]);
    for (const id of ["bad", "unspec", "superseded"]) {
      const r = verify(["-crl_check", "-CAfile", "trust-1.pem", `${id}.pem`]);
      assert.equal(r.status, 2, `${id}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^error 23 at 0 depth lookup: certificate revoked$/m);
      assert.match(r.stderr, new RegExp(`^error ${id}\\.pem: verification failed$`, "m"));
    }
    // Every CRL of the path (the root's too) with -crl_check_all.
    bundle("trust-all.pem", readFileSync(path("trust-1.pem"), "utf8"), readFileSync(path("root.crl.pem"), "utf8"));
    const all = verify(["-crl_check_all", "-CAfile", "trust-all.pem", "good.pem"]);
    assert.deepEqual([all.status, all.stdout], [0, "good.pem: OK\n"]);
    const allBad = verify(["-crl_check_all", "-CAfile", "trust-all.pem", "bad.pem"]);
    assert.match(allBad.stderr, /^error 23 at 0 depth lookup: certificate revoked$/m);
    // Without a CRL, -crl_check cannot decide: the CRL is what made the difference.
    const noCrl = verify(["-crl_check", "-CAfile", "chain.pem", "good.pem"]);
    assert.equal(noCrl.status, 2);
    assert.match(noCrl.stderr, /^error 3 at 0 depth lookup: unable to get certificate CRL$/m);
  });

  test("RFC 5280 §5.3.1 certificateHold: openssl verify refuses while on hold, accepts after removeFromCRL and a new CRL", async () => {
    bundle("trust-1.pem", readFileSync(path("chain.pem"), "utf8"), readFileSync(path("device-1.crl.pem"), "utf8"));
    const onHold = verify(["-crl_check", "-CAfile", "trust-1.pem", "held.pem"]);
    assert.equal(onHold.status, 2);
    assert.match(onHold.stderr, /^error 23 at 0 depth lookup: certificate revoked$/m);

    now = FIXED_NOW.getTime() + 3 * HOUR;
    const released = await revokeCertificate(home, devices.held!.record.serial, { reason: "removeFromCRL" });
    assert.equal(released.alreadyRevoked, false);
    const crl2 = await issueCrl(home, "device");
    assert.equal(crl2.crlNumber, 2);
    writeFileSync(path("device-2.crl.pem"), toPem(crl2.der, "X509 CRL"));
    const text = openssl(["crl", "-in", "device-2.crl.pem", "-noout", "-text"], { cwd: t.dir }).stdout;
    assert.equal(valueAfter(text, "X509v3 CRL Number:"), "2");
    assert.equal(revokedEntries(text).has(upper(devices.held!.record.serial)), false);
    bundle("trust-2.pem", readFileSync(path("chain.pem"), "utf8"), readFileSync(path("device-2.crl.pem"), "utf8"));
    const ok = verify(["-crl_check", "-CAfile", "trust-2.pem", "held.pem"]);
    assert.deepEqual([ok.status, ok.stdout, ok.stderr], [0, "held.pem: OK\n", ""]);
    const stillBad = verify(["-crl_check", "-CAfile", "trust-2.pem", "bad.pem"]);
    assert.match(stillBad.stderr, /^error 23 at 0 depth lookup: certificate revoked$/m);
  });

  describe("trustline's HTTP server (startServer): OCSP (RFC 6960), CRLs and CA certificates", () => {
    let live: Home;
    let server: RunningServer;
    let closed = false;
    let ocspUrl: string;
    let other: { dir: string; cleanup: () => void };
    /** `openssl ocsp` without blocking this process's event loop (the server runs here). */
    const ocsp = (args: readonly string[]): Promise<Run> => opensslAsync(["ocsp", ...args], { cwd: t.dir }).done;
    const ask = (id: string, ...extra: string[]) => ocsp(["-issuer", "device-ca.pem", "-cert", `${id}.pem`, "-url", ocspUrl, "-CAfile", "root.pem", ...extra]);
    const post = (body: Uint8Array) => fetch(ocspUrl, { method: "POST", body, headers: { "Content-Type": "application/ocsp-request" } });
    /** A good request (from openssl, no nonce) for `id`, written without network. */
    const requestFor = (id: string, name: string): Uint8Array => {
      const r = openssl(["ocsp", "-issuer", "device-ca.pem", "-cert", `${id}.pem`, "-no_nonce", "-reqout", name], { cwd: t.dir });
      assert.equal(r.status, 0, r.stderr);
      return new Uint8Array(readFileSync(path(name)));
    };
    async function stillServing(): Promise<void> {
      const health = await fetch(`${server.url}/healthz`);
      assert.deepEqual([health.status, await health.text()], [200, "ok\n"]);
      const r = await post(requestFor("good", "still-serving.der"));
      assert.equal(r.status, 200);
      assert.deepEqual(ocspStatus(new Uint8Array(await r.arrayBuffer())), { responseStatus: 0, certStatus: "good" });
    }

    before(async () => {
      // The responder certificate and the responses use the real time (OpenSSL checks them against it).
      live = await reopen(home, { clock: () => new Date(), operator: "ocsp", station: "server" });
      server = await startServer(live, { port: 0 });
      ocspUrl = `${server.url}/ocsp/device`;
      other = tempDir("trustline-revocation-other-");
    });
    after(async () => {
      if (!closed) await server?.close();
      other?.cleanup();
    });

    test("RFC 6960 §2.2: a good certificate → 'Response verify OK', 'Cert Status: good', the request's nonce echoed (RFC 8954)", async () => {
      const r = await ask("good", "-resp_text", "-reqout", "nonce-req.der", "-respout", "nonce-resp.der");
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, "Response verify OK\n");
      assert.match(r.stdout, /^ {4}OCSP Response Status: successful \(0x0\)$/m);
      assert.match(r.stdout, /^ {4}Cert Status: good$/m);
      assert.match(r.stdout, /^good\.pem: good\n\tThis Update: .+ GMT\n\tNext Update: .+ GMT\n$/m);
      assert.match(r.stdout, new RegExp(`^ {6}Serial Number: ${upper(devices.good!.record.serial)}$`, "m"));
      const sent = nonceHex(openssl(["ocsp", "-reqin", "nonce-req.der", "-req_text"], { cwd: t.dir }).stdout);
      assert.ok(sent && /^0410[0-9A-F]{32}$/.test(sent), `openssl sent a 16-octet nonce: ${sent}`);
      assert.equal(nonceHex(r.stdout), sent, "the response carries the request's nonce");
      // The response on disk verifies against the request it answers (nonce check included).
      const again = openssl(["ocsp", "-reqin", "nonce-req.der", "-respin", "nonce-resp.der", "-CAfile", "root.pem", "-verify_other", "device-ca.pem"], { cwd: t.dir });
      assert.deepEqual([again.status, again.stderr], [0, "Response verify OK\n"]);
    });

    test("-no_nonce works: no nonce asked, none answered, no warning", async () => {
      const r = await ask("good", "-no_nonce");
      assert.equal(r.status, 0);
      assert.equal(r.stderr, "Response verify OK\n");
      assert.match(r.stdout, /^good\.pem: good\n\tThis Update: .+ GMT\n\tNext Update: .+ GMT\n$/);
      const text = await ask("good", "-no_nonce", "-resp_text");
      assert.equal(text.stdout.includes("OCSP Nonce"), false);
      assert.match(text.stdout, /^ {4}Cert Status: good$/m);
    });

    test("RFC 6960 §2.2: revoked certificates → 'revoked', with the time and the reason (none for unspecified)", async () => {
      const revokedAt = opensslDate(new Date(FIXED_NOW.getTime() + 2 * HOUR));
      const bad = await ask("bad", "-resp_text");
      assert.equal(bad.stderr, "Response verify OK\n");
      assert.match(bad.stdout, /^ {4}Cert Status: revoked$/m);
      assert.match(bad.stdout, /^ {4}Revocation Reason: keyCompromise \(0x1\)$/m);
      assert.ok(bad.stdout.includes(`bad.pem: revoked\n\tThis Update: `), bad.stdout);
      assert.ok(bad.stdout.includes(`\tReason: keyCompromise\n\tRevocation Time: ${revokedAt}\n`), bad.stdout);
      const superseded = await ask("superseded");
      assert.ok(superseded.stdout.includes(`\tReason: superseded\n\tRevocation Time: ${revokedAt}\n`), superseded.stdout);
      const unspec = await ask("unspec");
      assert.match(unspec.stdout, /^unspec\.pem: revoked$/m);
      assert.equal(unspec.stdout.includes("Reason:"), false, unspec.stdout);
      assert.ok(unspec.stdout.includes(`\tRevocation Time: ${revokedAt}\n`));
      // The hold was released before the server started: good again.
      const held = await ask("held");
      assert.match(held.stdout, /^held\.pem: good$/m);
    });

    test("RFC 6960 §4.2.2.2: the responder certificate is issued by the device CA, EKU OCSP Signing, id-pkix-ocsp-nocheck", async () => {
      const r = await ask("good", "-no_nonce", "-resp_text");
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(r.stdout)?.[0];
      assert.ok(pem, "the response carries the responder's certificate");
      writeFileSync(path("responder.pem"), pem);
      const text = x509Text(path("responder.pem"));
      assert.deepEqual(extension(text, "X509v3 Extended Key Usage"), { critical: false, lines: ["OCSP Signing"] });
      assert.ok(extensions(text).has("OCSP No Check"), text);
      assert.deepEqual(extension(text, "X509v3 Basic Constraints"), { critical: true, lines: ["CA:FALSE"] });
      assert.deepEqual(extension(text, "X509v3 Key Usage"), { critical: true, lines: ["Digital Signature"] });
      assert.equal(x509Field(path("responder.pem"), "-issuer"), x509Field(path("device-ca.pem"), "-subject"));
      assert.equal(keyId(text, "X509v3 Authority Key Identifier"), keyId(x509Text(path("device-ca.pem")), "X509v3 Subject Key Identifier"));
      // ResponderID byKey (RFC 6960 §4.2.2.3) names this certificate's key.
      assert.match(r.stdout, new RegExp(`^ {4}Responder Id: ${keyId(text, "X509v3 Subject Key Identifier").replace(/:/g, "")}$`, "m"));
      // And it chains to the root the client trusts.
      const chain = openssl(["verify", "-CAfile", "root.pem", "-untrusted", "device-ca.pem", "-purpose", "ocsphelper", "responder.pem"], { cwd: t.dir });
      assert.deepEqual([chain.status, chain.stdout], [0, "responder.pem: OK\n"]);
      assert.equal(new X509Certificate(pem).fingerprint256, new X509Certificate(live.state.responders!.device!.certificate).fingerprint256);
    });

    test("RFC 6960 §2.2/§2.3: a serial this CA never issued (even one another home did) → 'unknown'; another home's certificate with its own issuer → unauthorized (6)", async () => {
      const unknown = await ocsp(["-issuer", "device-ca.pem", "-serial", "0x0123456789", "-url", ocspUrl, "-CAfile", "root.pem"]);
      assert.equal(unknown.stderr, "Response verify OK\n");
      assert.match(unknown.stdout, /^0x0123456789: unknown$/m);

      const otherHome = await makeHome(other.dir, { organization: "Other Devices" });
      const stranger = await generateDeviceCertificate(otherHome, "dev-stranger");
      writeFileSync(path("stranger.pem"), stranger.pem);
      writeFileSync(path("other-device-ca.pem"), otherHome.state.cas.device!.certificate);
      // Asked as the other CA's certificate: not a CA this responder answers for.
      const foreign = await ocsp(["-issuer", "other-device-ca.pem", "-cert", "stranger.pem", "-url", ocspUrl, "-CAfile", "root.pem"]);
      assert.equal(foreign.stdout, "Responder Error: unauthorized (6)\n");
      assert.notEqual(foreign.status, 0);
      // The other home's serial, asked of our CA (CertID with our CA's name and key hashes): unknown.
      // (With -cert stranger.pem OpenSSL would hash the stranger's issuer name: unauthorized again.)
      const serial = `0x${upper(stranger.record.serial)}`;
      const mixed = await ocsp(["-issuer", "device-ca.pem", "-serial", serial, "-url", ocspUrl, "-CAfile", "root.pem"]);
      assert.equal(mixed.stderr, "Response verify OK\n");
      assert.ok(mixed.stdout.startsWith(`${serial}: unknown\n`), mixed.stdout);
    });

    test("a revocation is visible to the responder within one second of revokeCertificate returning; the served CRL follows", async () => {
      const req = requestFor("later", "later-req.der");
      assert.deepEqual(ocspStatus(await server.responder.respond("device", req)), { responseStatus: 0, certStatus: "good" });
      const crlBefore = await fetch(`${server.url}/crl/device.crl`);
      const etagBefore = crlBefore.headers.get("etag");
      await crlBefore.arrayBuffer();

      await revokeCertificate(home, devices.later!.record.serial, { reason: "superseded" });
      const started = performance.now();
      let status = ocspStatus(await server.responder.respond("device", req)).certStatus;
      while (status !== "revoked" && performance.now() - started < 1000) {
        await sleep(20);
        status = ocspStatus(await server.responder.respond("device", req)).certStatus;
      }
      const elapsed = performance.now() - started;
      assert.equal(status, "revoked", `still ${status} after ${Math.round(elapsed)} ms`);
      assert.ok(elapsed < 1000, `visible after ${Math.round(elapsed)} ms`);
      const viaOpenssl = await ask("later");
      assert.match(viaOpenssl.stdout, /^later\.pem: revoked$/m);
      assert.match(viaOpenssl.stdout, /^\tReason: superseded$/m);

      // The server re-issues its CRLs after a change (debounced): the new one lists the revocation.
      let listed = false;
      let etag = etagBefore;
      for (const deadline = performance.now() + 5000; !listed && performance.now() < deadline; ) {
        await sleep(100);
        const r = await fetch(`${server.url}/crl/device.crl`);
        etag = r.headers.get("etag");
        listed = parseCrl(new Uint8Array(await r.arrayBuffer())).entries.some((e) => e.serial === devices.later!.record.serial);
      }
      assert.ok(listed, "the served CRL lists the new revocation within 5 s");
      assert.notEqual(etag, etagBefore);
    });

    test("RFC 6960 Appendix A.1 GET: base64url and URL-encoded base64 requests are answered; openssl verifies the response", async () => {
      const r0 = openssl(["ocsp", "-issuer", "device-ca.pem", "-cert", "good.pem", "-reqout", "get-req.der"], { cwd: t.dir });
      assert.equal(r0.status, 0, r0.stderr);
      const req = readFileSync(path("get-req.der"));
      for (const [form, encoded] of [
        ["base64url", req.toString("base64url")],
        ["URL-encoded base64", encodeURIComponent(req.toString("base64"))],
      ] as const) {
        const res = await fetch(`${ocspUrl}/${encoded}`);
        assert.equal(res.status, 200, form);
        assert.equal(res.headers.get("content-type"), "application/ocsp-response", form);
        writeFileSync(path("get-resp.der"), new Uint8Array(await res.arrayBuffer()));
        // The nonce of the GET request comes back (checked by openssl against the request)...
        const withReq = openssl(["ocsp", "-reqin", "get-req.der", "-respin", "get-resp.der", "-CAfile", "root.pem", "-verify_other", "device-ca.pem"], { cwd: t.dir });
        assert.deepEqual([withReq.status, withReq.stderr], [0, "Response verify OK\n"], form);
        // ...and the status is the certificate's.
        const status = openssl(["ocsp", "-respin", "get-resp.der", "-CAfile", "root.pem", "-issuer", "device-ca.pem", "-cert", "good.pem", "-no_nonce"], { cwd: t.dir });
        assert.equal(status.stderr, "Response verify OK\n", form);
        assert.match(status.stdout, /^good\.pem: good$/m, form);
      }
    });

    test("malformed: a garbage POST → HTTP 200, OCSPResponseStatus malformedRequest (30 03 0a 01 01); still serving", async () => {
      const res = await post(new Uint8Array(Buffer.from("this is not DER at all")));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/ocsp-response");
      assert.equal(Buffer.from(await res.arrayBuffer()).toString("hex"), MALFORMED_REQUEST);
      const truncated = requestFor("good", "truncated.der").subarray(0, 20);
      const res2 = await post(truncated);
      assert.equal(Buffer.from(await res2.arrayBuffer()).toString("hex"), MALFORMED_REQUEST);
      const empty = await post(new Uint8Array(0));
      assert.equal(Buffer.from(await empty.arrayBuffer()).toString("hex"), MALFORMED_REQUEST);
      await stillServing();
    });

    test("malformed: an empty GET request path (/ocsp/device/) → HTTP 200 malformedRequest; still serving", async () => {
      let outcome: string;
      try {
        const res = await fetch(`${ocspUrl}/`);
        outcome = `${res.status} ${res.headers.get("content-type")} ${Buffer.from(await res.arrayBuffer()).toString("hex")}`;
      } catch (e) {
        outcome = `request failed: ${(e as Error).message}`;
      }
      await stillServing();
      assert.equal(outcome, `200 application/ocsp-response ${MALFORMED_REQUEST}`);
    });

    test("malformed: a GET whose request is not valid percent-encoding → HTTP 200 malformedRequest; still serving", async () => {
      let outcome: string;
      try {
        const res = await fetch(`${ocspUrl}/MEIwQDA%E0%A4%A`);
        outcome = `${res.status} ${res.headers.get("content-type")} ${Buffer.from(await res.arrayBuffer()).toString("hex")}`;
      } catch (e) {
        outcome = `request failed: ${(e as Error).message}`;
      }
      await stillServing();
      assert.equal(outcome, `200 application/ocsp-response ${MALFORMED_REQUEST}`);
    });

    test("malformed: a 70 KB POST body (over the 64 KiB limit) → HTTP 413 without reading it, connection closed; still serving", async () => {
      let outcome: string;
      try {
        const res = await post(new Uint8Array(70 * 1024).fill(0x30));
        outcome = `${res.status} ${res.headers.get("content-type")} ${Buffer.from(await res.arrayBuffer()).toString("hex")}`;
      } catch (e) {
        outcome = `request failed: ${(e as Error).message} (${String((e as { cause?: { code?: string } }).cause?.code)})`;
      }
      await stillServing();
      assert.match(outcome, /^413 text\/plain |^request failed: /);
    });

    test("RFC 6960 §2.3: an OCSP request to a CA the server does not have → unauthorized (30 03 0a 01 06)", async () => {
      const res = await fetch(`${server.url}/ocsp/nope`, { method: "POST", body: requestFor("good", "nope.der") });
      assert.equal(res.status, 200);
      assert.equal(Buffer.from(await res.arrayBuffer()).toString("hex"), "30030a0106");
    });

    test("GET /crl/device.crl: DER, application/pkix-crl, ETag, Cache-Control max-age, 304 on If-None-Match", async () => {
      const res = await fetch(`${server.url}/crl/device.crl`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/pkix-crl");
      const body = new Uint8Array(await res.arrayBuffer());
      const crl = parseCrl(body);
      const etag = res.headers.get("etag");
      assert.equal(etag, `"device-${crl.crlNumber}"`);
      assert.equal(res.headers.get("cache-control"), "public, max-age=300, no-transform");
      assert.equal(res.headers.get("last-modified"), crl.thisUpdate.toUTCString());
      assert.equal(res.headers.get("expires"), crl.nextUpdate!.toUTCString());
      assert.equal(crl.nextUpdate!.getTime() - crl.thisUpdate.getTime(), 7 * 24 * HOUR);
      assert.equal(verifyCrlSignature(crl, new Uint8Array(new X509Certificate(readFileSync(path("device-ca.pem"))).publicKey.export({ format: "der", type: "spki" }))), true);
      writeFileSync(path("served.crl"), body);
      const v = openssl(["crl", "-inform", "DER", "-in", "served.crl", "-CAfile", "chain.pem", "-noout"], { cwd: t.dir });
      assert.deepEqual([v.status, v.stderr], [0, "verify OK\n"]);
      assert.deepEqual(
        crl.entries.map((e) => e.serial).sort(),
        ["bad", "unspec", "superseded", "later"].map((id) => devices[id]!.record.serial).sort(),
        "revoked ones listed, the released hold not",
      );

      const cached = await fetch(`${server.url}/crl/device.crl`, { headers: { "If-None-Match": etag! } });
      assert.equal(cached.status, 304);
      assert.equal(cached.headers.get("etag"), etag);
      assert.equal((await cached.arrayBuffer()).byteLength, 0);
      const stale = await fetch(`${server.url}/crl/device.crl`, { headers: { "If-None-Match": '"device-0"' } });
      assert.equal(stale.status, 200);
      assert.ok(Buffer.from(await stale.arrayBuffer()).equals(Buffer.from(body)));
      const root = await fetch(`${server.url}/crl/root.crl`);
      assert.equal(root.status, 200);
      const rootCrl = parseCrl(new Uint8Array(await root.arrayBuffer()));
      assert.equal(rootCrl.nextUpdate!.getTime() - rootCrl.thisUpdate.getTime(), 90 * 24 * HOUR);
    });

    test("GET /ca/root.cer returns the root certificate (DER, application/pkix-cert); unknown paths 404", async () => {
      const res = await fetch(`${server.url}/ca/root.cer`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/pkix-cert");
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(new X509Certificate(readFileSync(path("root.pem"))).raw));
      const device = await fetch(`${server.url}/ca/device.cer`);
      assert.ok(Buffer.from(await device.arrayBuffer()).equals(new X509Certificate(readFileSync(path("device-ca.pem"))).raw));
      for (const p of ["/", "/nope", "/crl/nope.crl", "/ca/nope.cer", "/crl/device.pem", "/ca/root.pem"]) {
        const r = await fetch(`${server.url}${p}`);
        await r.arrayBuffer();
        assert.equal(r.status, 404, p);
      }
      const health = await fetch(`${server.url}/healthz`);
      assert.deepEqual([health.status, await health.text()], [200, "ok\n"]);
    });

    test("server.close() resolves, and the port is closed afterwards", async () => {
      const started = performance.now();
      await server.close();
      closed = true;
      assert.ok(performance.now() - started < 3000, `close took ${Math.round(performance.now() - started)} ms`);
      // A fresh TCP connection (not fetch's pool, which may still hold a socket it has not seen closed).
      const code = await new Promise<string>((resolve) => {
        const socket = connect(server.port, "127.0.0.1");
        socket.on("connect", () => {
          socket.destroy();
          resolve("connected");
        });
        socket.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      assert.equal(code, "ECONNREFUSED");
    });
  });
});
