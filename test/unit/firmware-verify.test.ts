/**
 * verifyFirmware refuses what a careful device or update server must refuse (reference:
 * shared/reference/firmware-signing.md, "What a careful verifier checks"), each case on its own,
 * naming the failing check, and accepts what it must accept, with the evidence an auditor asks for.
 *
 * Two time regimes:
 * - fixed: the home's clock is FIXED_NOW; CRLs are issued at FIXED_NOW and the verifier's `now` is
 *   FIXED_NOW + 1 h. Used where no time-stamp is involved.
 * - live: OpenSSL's TSA stamps with the real clock (R). Signers are issued at R - 1 day,
 *   revocations are dated around R, CRLs are issued at R + 2 days and `now` is R + 2 days + 1 h,
 *   so a token at R is before or after a revocation as each test needs.
 */
import { newKeyPair } from "../helpers/keys.js";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  createCsr,
  exportCa,
  type FirmwareCheck,
  type FirmwareSignOptions,
  type FirmwareVerdict,
  type FirmwareVerifyOptions,
  type Home,
  issueCrl,
  issueDeviceCertificate,
  issueSignerCertificate,
  type RequestOptions,
  revokeCertificate,
  type RevokeOptions,
  signerFromKeyFile,
  signFirmware,
  toPem,
  verifyFirmware,
} from "../../ca/index.js";
import { children, readRoot, sequence, slice, tlv, type Tlv } from "../../ca/x509/der.js";
import { POLICY_OIDS } from "../../policy/oids.js";
import { type SignerFiles, writeSigner } from "../helpers/firmware-signer.js";
import { FIXED_NOW, fixedClock, makeHome, openssl, PASSPHRASE, reopen, tempDir } from "../helpers/pki.js";
import { type LocalTsa, makeTestRoot, startTsa, TSA_POLICY } from "../helpers/tsa.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const FIXED_VERIFY_NOW = new Date(FIXED_NOW.getTime() + HOUR);

type TestSigner = SignerFiles;

let dir: string;
let cleanup: () => void;
let home: Home;
let rootPem: Buffer;
let image: string;
let tsa: LocalTsa;
/** The real time when the suite started (second precision) and the live regime built on it. */
let R: Date;
let liveHome: Home;
let liveNow: Date;
let fixedCrls: Uint8Array[];
let fixedCrlNumbers: { firmware: number; root: number };
let baseline: TestSigner;
let counter = 0;

function assertRefused(v: FirmwareVerdict, check: FirmwareCheck, reason: string): asserts v is Extract<FirmwareVerdict, { valid: false }> {
  assert.equal(v.valid, false, `expected a refusal (${check}), got valid:\n${JSON.stringify(v.evidence, null, 1)}`);
  if (v.valid) return;
  assert.equal(v.check, check, `expected check ${check}, got ${v.check}: ${v.reason}`);
  assert.ok(v.reason.includes(reason), `reason does not include ${JSON.stringify(reason)}:\n${v.reason}`);
}

function assertValid(v: FirmwareVerdict): asserts v is Extract<FirmwareVerdict, { valid: true }> {
  assert.equal(v.valid, true, v.valid ? "" : `expected valid, got ${v.check}: ${v.reason}`);
}

/** A P-256 (or P-384) key written as PKCS#8 PEM, and a signer certificate for it. */
function newSigner(issuer: Home, options: RequestOptions & { curve?: "P-256" | "P-384" } = {}): Promise<TestSigner> {
  return writeSigner(issuer, dir, `ci-pipeline-${++counter}`, options);
}

async function sign(signer: Pick<TestSigner, "certPath" | "keyPath">, extra: Partial<FirmwareSignOptions> = {}): Promise<Uint8Array> {
  const signature = await signFirmware({
    image,
    certificate: readFileSync(signer.certPath),
    signer: signerFromKeyFile(signer.keyPath),
    version: "1.0",
    hardware: "tc-100",
    securityVersion: 3,
    clock: fixedClock,
    ...extra,
  });
  return signature.der;
}

function verify(signature: Uint8Array, extra: Partial<FirmwareVerifyOptions> = {}): Promise<FirmwareVerdict> {
  return verifyFirmware({ image, signature, trust: [rootPem], crls: fixedCrls, now: FIXED_VERIFY_NOW, ...extra });
}

/** CRLs of the firmware CA and the root, issued with the home's clock at `at`. */
async function crlsAt(at: Date): Promise<{ ders: Uint8Array[]; firmware: number; root: number }> {
  const h = await reopen(home, { clock: () => new Date(at) });
  const firmware = await issueCrl(h, "firmware");
  const root = await issueCrl(h, "root");
  return { ders: [firmware.der, root.der], firmware: firmware.crlNumber, root: root.crlNumber };
}

/** Revoke with the home's clock at `at`. */
async function revokeAt(signer: TestSigner, at: Date, options: RevokeOptions): Promise<void> {
  const h = await reopen(home, { clock: () => new Date(at) });
  const r = await revokeCertificate(h, signer.issued.record.serial, options);
  assert.equal(r.alreadyRevoked, false);
}

/** Sign with a time-stamp from the local TSA (real clock). */
async function signStamped(signer: TestSigner): Promise<Uint8Array> {
  const granted = tsa.granted();
  const der = await sign(signer, { tsaUrl: tsa.url, clock: () => new Date() });
  assert.equal(tsa.granted(), granted + 1, "the local TSA answered exactly one request");
  return der;
}

const at = (ms: number) => new Date(R.getTime() + ms);

/** Re-encode `node` with the descendant at `path` (child indices, negative from the end) replaced. */
function replaceAt(buf: Uint8Array, node: Tlv, path: readonly number[], replacement: Uint8Array): Uint8Array {
  if (path.length === 0) return replacement;
  const kids = children(buf, node);
  const i = path[0]! < 0 ? kids.length + path[0]! : path[0]!;
  return tlv(node.tag, ...kids.map((k, j) => (j === i ? replaceAt(buf, k, path.slice(1), replacement) : slice(buf, k))));
}

/** ContentInfo -> [0] -> SignedData -> signerInfos -> SignerInfo -> [1] unsignedAttrs. */
const UNSIGNED_ATTRS = [1, 0, -1, 0, -1] as const;
function unsignedAttrsOf(der: Uint8Array): Uint8Array {
  let node = readRoot(der);
  for (const step of UNSIGNED_ATTRS) {
    const kids = children(der, node);
    node = kids[step < 0 ? kids.length + step : step]!;
  }
  assert.equal(node.tag, 0xa1);
  return slice(der, node);
}

before(async () => {
  ({ dir, cleanup } = tempDir("trustline-fw-verify-"));
  home = await makeHome(dir);
  rootPem = Buffer.from(await exportCa(home, "root"));
  writeFileSync(join(dir, "root.pem"), rootPem);
  writeFileSync(join(dir, "firmware-ca.pem"), await exportCa(home, "firmware"));
  image = join(dir, "fw.bin");
  writeFileSync(image, Buffer.concat([Buffer.from("TC-100 firmware 1.0\n"), Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 0xff))]));
  tsa = await startTsa(dir);
  R = new Date(Math.floor(Date.now() / 1000) * 1000);
  liveHome = await reopen(home, { clock: () => at(-DAY) });
  liveNow = at(2 * DAY + HOUR);
  const crls = await crlsAt(FIXED_NOW);
  fixedCrls = crls.ders;
  fixedCrlNumbers = { firmware: crls.firmware, root: crls.root };
  baseline = await newSigner(home);
});

after(async () => {
  await tsa?.close();
  cleanup?.();
});

describe("refusals: the image", () => {
  test("RFC 5652 §11.2 messageDigest: one flipped byte in the image is refused (message-digest)", async () => {
    const signature = await sign(baseline);
    assertValid(await verify(signature));
    const bytes = readFileSync(image);
    bytes[150_000] = bytes[150_000]! ^ 0x01;
    const altered = join(dir, "fw-flipped.bin");
    writeFileSync(altered, bytes);
    const v = await verify(signature, { image: altered });
    assertRefused(v, "message-digest", "does not match the signed messageDigest");
    assert.equal(v.evidence.image?.size, bytes.length);
    assert.equal(v.evidence.image?.sha256, createHash("sha256").update(bytes).digest("hex"));
  });

  test("RFC 5652 §11.2 messageDigest: a truncated image (last byte missing) is refused (message-digest)", async () => {
    const signature = await sign(baseline);
    const bytes = readFileSync(image);
    const truncated = join(dir, "fw-truncated.bin");
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 1));
    const v = await verify(signature, { image: truncated });
    assertRefused(v, "message-digest", "altered or truncated");
    assert.equal(v.evidence.image?.size, bytes.length - 1);
  });
});

describe("refusals: signer and chain", () => {
  test("RFC 5280 §6.1 pinned root: another home's root of the same name does not anchor the path (chain)", async () => {
    const other = tempDir("trustline-fw-other-");
    try {
      const foreign = await makeHome(other.dir); // also "Acme Devices root CA", another key
      const signature = await sign(baseline);
      const v = await verify(signature, { trust: [Buffer.from(await exportCa(foreign, "root"))] });
      assertRefused(v, "chain", "does not verify with the issuer's public key");
    } finally {
      other.cleanup();
    }
  });

  test("RFC 5280 §6.1.5(g) explicit policy: a device certificate (clientAuth, device-identity policy) used as signer is refused at path validation (chain)", async () => {
    // The path check (step 5) runs before the usage check (step 6) and demands the firmware-signing
    // policy, which a device certificate does not carry: so the refusal is "chain", not "signer-usage".
    const { privateKey } = newKeyPair("ec", { namedCurve: "P-256" });
    const keyPath = join(dir, "device-as-signer.key");
    writeFileSync(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }));
    const dev = await issueDeviceCertificate(home, createCsr(privateKey, "dev-0001"));
    const der = (await signFirmware({ image, certificate: Buffer.from(dev.pem + dev.chain.join("")), signer: signerFromKeyFile(keyPath), clock: fixedClock })).der;
    const v = await verify(der);
    assertRefused(v, "chain", "explicit policy is required");
    assert.equal(v.evidence.signer?.subject, "CN=dev-0001");
  });

  describe("certificates OpenSSL forges under the firmware CA (firmware policy, no codeSigning-only EKU)", () => {
    let fwCaKey: string;
    let cnf: string;
    before(() => {
      const pass = join(dir, "pass.txt");
      writeFileSync(pass, `${PASSPHRASE}\n`);
      fwCaKey = join(dir, "firmware-ca.key");
      const r = openssl(["pkey", "-in", join(home.dir, "keys", "firmware.key.pem"), "-passin", `file:${pass}`, "-out", fwCaKey]);
      assert.equal(r.status, 0, r.stderr);
      cnf = join(dir, "forge.cnf");
      const common = `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\ncertificatePolicies=${POLICY_OIDS.firmwareSigning}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n`;
      writeFileSync(cnf, `[client]\n${common}extendedKeyUsage=clientAuth\n[codeclient]\n${common}extendedKeyUsage=codeSigning,clientAuth\n`);
    });

    /** An OpenSSL-issued certificate (notBefore = real now, 30 days) under the firmware CA. */
    function forge(section: "client" | "codeclient"): Pick<TestSigner, "certPath" | "keyPath"> {
      const name = `forged-${section}`;
      const { privateKey } = newKeyPair("ec", { namedCurve: "P-256" });
      const keyPath = join(dir, `${name}.key`);
      writeFileSync(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }));
      const csrPath = join(dir, `${name}.csr`);
      writeFileSync(csrPath, toPem(createCsr(privateKey, name), "CERTIFICATE REQUEST"));
      const leafPath = join(dir, `${name}-leaf.pem`);
      const r = openssl(["x509", "-req", "-in", csrPath, "-CA", join(dir, "firmware-ca.pem"), "-CAkey", fwCaKey, "-set_serial", section === "client" ? "0x7001" : "0x7002", "-days", "30", "-sha256", "-extfile", cnf, "-extensions", section, "-out", leafPath]);
      assert.equal(r.status, 0, r.stderr);
      const certPath = join(dir, `${name}.pem`);
      writeFileSync(certPath, readFileSync(leafPath, "utf8") + readFileSync(join(dir, "firmware-ca.pem"), "utf8"));
      return { certPath, keyPath };
    }

    test("RFC 5280 §4.2.1.12 extendedKeyUsage: a signer with clientAuth instead of codeSigning is refused by path validation for purpose codeSigning (chain)", async () => {
      // The path is validated for the codeSigning purpose (step 5), so an EKU without codeSigning
      // fails there, before the stricter "codeSigning only" rule of step 6.
      const signature = await sign(forge("client"), { clock: () => new Date() });
      const v = await verify(signature, { now: liveNow, revocation: "off" });
      assertRefused(v, "chain", "does not include codeSigning");
    });

    test("reference §6 signer usage: a signer with codeSigning AND clientAuth passes the path but is refused as not codeSigning-only (signer-usage)", async () => {
      const signature = await sign(forge("codeclient"), { clock: () => new Date() });
      const v = await verify(signature, { now: liveNow, revocation: "off" });
      assertRefused(v, "signer-usage", "also allows clientAuth");
      assert.equal(v.evidence.path?.length, 3, "the path itself validated");
    });
  });

  test("RFC 5280 §6.1.3(a)(2) validity: an expired signer without a time-stamp is refused (chain)", async () => {
    const shortLived = await newSigner(home, { validityDays: 1 }); // notAfter = FIXED_NOW + 1 day
    const signature = await sign(shortLived);
    assertValid(await verify(signature));
    const later = new Date(FIXED_NOW.getTime() + 2 * DAY);
    const crls = await crlsAt(new Date(later.getTime() - HOUR));
    const v = await verify(signature, { now: later, crls: crls.ders });
    assertRefused(v, "chain", `expired at ${new Date(FIXED_NOW.getTime() + DAY).toISOString()}`);
    assert.deepEqual(v.evidence.trustedTime, { time: later.toISOString(), source: "now" });
  });

  test("RFC 5652 §5.3 signedAttrs: an `openssl cms -sign -noattr` signature (no signed attributes) is refused (signed-attributes)", async () => {
    const out = join(dir, "noattr.p7s");
    const r = openssl(["cms", "-sign", "-binary", "-noattr", "-in", image, "-md", "sha256", "-signer", baseline.leafPath, "-inkey", baseline.keyPath, "-certfile", join(dir, "firmware-ca.pem"), "-nosmimecap", "-outform", "DER", "-out", out]);
    assert.equal(r.status, 0, r.stderr);
    const v = await verify(readFileSync(out));
    assertRefused(v, "signed-attributes", "no signed attributes");
  });

  test("reference §4 trusted time: a time-stamp whose TSA does not chain to the pinned TSA root is refused (timestamp)", async () => {
    const signer = await newSigner(liveHome);
    const signature = await signStamped(signer);
    const otherRoot = makeTestRoot(join(dir, "other-tsa-root"), "other-tsa");
    const v = await verify(signature, { tsaTrust: [readFileSync(otherRoot.certPath)], now: liveNow, revocation: "off" });
    assertRefused(v, "timestamp", "the time-stamp authority is not trusted");
    assert.equal(v.evidence.timestamp, undefined);
    // The same token with the right TSA root is accepted.
    const ok = await verify(signature, { tsaTrust: [readFileSync(tsa.root.certPath)], now: liveNow, revocation: "off" });
    assertValid(ok);
    assert.equal(ok.evidence.trustedTime?.source, "timestamp");
  });

  test("RFC 3161 §2.4.2 messageImprint: a time-stamp token moved from another signature (unsigned, so movable) is refused (timestamp)", async () => {
    const signer = await newSigner(liveHome);
    const first = await signStamped(signer);
    const second = await signStamped(signer);
    const transplanted = replaceAt(second, readRoot(second), UNSIGNED_ATTRS, unsignedAttrsOf(first));
    assert.notDeepEqual(transplanted, second);
    const tsaTrust = [readFileSync(tsa.root.certPath)];
    assertValid(await verify(second, { tsaTrust, now: liveNow, revocation: "off" }));
    const v = await verify(transplanted, { tsaTrust, now: liveNow, revocation: "off" });
    assertRefused(v, "timestamp", "the time-stamp does not cover this signature (messageImprint differs)");
  });

  test("RFC 5280 §6.1.3(a)(2) at the trusted time: a signer expired now but valid when time-stamped stays valid; without the TSA root it is refused (chain)", async () => {
    // Issued at R - 12 h for one day: valid at the token (R), expired at liveNow (R + 2 days + 1 h).
    const signer = await newSigner(await reopen(home, { clock: () => at(-12 * HOUR) }), { validityDays: 1 });
    const signature = await signStamped(signer);
    const crls = await crlsAt(at(2 * DAY));
    const v = await verify(signature, { crls: crls.ders, now: liveNow, tsaTrust: [readFileSync(tsa.root.certPath)] });
    assertValid(v);
    assert.equal(v.evidence.trustedTime?.source, "timestamp");
    const unstamped = await verify(signature, { crls: crls.ders, now: liveNow });
    assertRefused(unstamped, "chain", `expired at ${at(12 * HOUR).toISOString()}`);
  });

  test("X.690 §11.6 DER: signed attributes stored out of order (as pkijs writes them) are refused before the signature is checked (signed-attributes)", async () => {
    const signature = await sign(baseline);
    const path = [1, 0, -1, 0, 3]; // ... SignerInfo -> [0] signedAttrs
    let node = readRoot(signature);
    for (const step of path) {
      const kids = children(signature, node);
      node = kids[step < 0 ? kids.length + step : step]!;
    }
    assert.equal(node.tag, 0xa0);
    const attrs = children(signature, node).map((t) => slice(signature, t));
    const swapped = tlv(0xa0, attrs[1]!, attrs[0]!, ...attrs.slice(2));
    const v = await verify(replaceAt(signature, readRoot(signature), path, swapped));
    assertRefused(v, "signed-attributes", "not DER-sorted");
  });

  test("RFC 5035 signingCertificateV2: another certificate for the same key substituted in the signature (sid and certificates are unsigned) is refused (signing-certificate)", async () => {
    // Two certificates for one key: sign with the first, then name and embed the second.
    const { privateKey } = newKeyPair("ec", { namedCurve: "P-256" });
    const keyPath = join(dir, "two-certs.key");
    writeFileSync(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }));
    const csr = createCsr(privateKey, "x");
    const first = await issueSignerCertificate(home, csr, "ci-first");
    const second = await issueSignerCertificate(home, csr, "ci-second");
    const signature = (await signFirmware({ image, certificate: Buffer.from(first.pem + first.chain.join("")), signer: signerFromKeyFile(keyPath), clock: fixedClock })).der;
    const tbsParts = children(second.der, children(second.der, readRoot(second.der))[0]!);
    const sid = sequence(slice(second.der, tbsParts[3]!), slice(second.der, tbsParts[1]!)); // issuer, serial
    const fwCa = Buffer.from(readFileSync(join(dir, "firmware-ca.pem"), "utf8").replace(/-----[A-Z ]+-----|\s+/g, ""), "base64");
    let forged = replaceAt(signature, readRoot(signature), [1, 0, -1, 0, 1], sid);
    forged = replaceAt(forged, readRoot(forged), [1, 0, 3], tlv(0xa0, second.der, fwCa));
    const v = await verify(forged);
    assertRefused(v, "signing-certificate", "signingCertificateV2 names another certificate");
    assert.equal(v.evidence.signer?.subject, "O=Acme Devices, CN=ci-second", "the substituted certificate was found and its key verified the signature");
  });

  test("RFC 5652 §5.4 signature over DER(signedAttrs): one byte changed inside the signed manifest of the .p7s is refused (signature)", async () => {
    const signature = Buffer.from(await sign(baseline));
    const marker = Buffer.from('"hardware":"tc-100"');
    const pos = signature.indexOf(marker);
    assert.ok(pos > 0, "the manifest is in the signature");
    assert.equal(signature.indexOf(marker, pos + 1), -1, "exactly once");
    signature[pos + marker.length - 2] = "1".charCodeAt(0); // tc-100 -> tc-110: still valid JSON, still sorted
    const v = await verify(signature);
    assertRefused(v, "signature", "the signature over the signed attributes does not hold");
  });
});

describe("refusals and acceptances: revocation (reference §7)", () => {
  test("RFC 5280 §5.3.1 keyCompromise, no time-stamp: a revoked signer is refused (revocation)", async () => {
    const signer = await newSigner(home);
    const signature = await sign(signer);
    await revokeAt(signer, FIXED_NOW, { reason: "keyCompromise" });
    const crls = await crlsAt(FIXED_NOW);
    const v = await verify(signature, { crls: crls.ders });
    assertRefused(v, "revocation", "has no trusted time-stamp");
    assert.ok(v.reason.includes(`"O=Acme Devices, CN=${signer.name}" was revoked at ${FIXED_NOW.toISOString()} (reason 1`), v.reason);
  });

  test("RFC 5280 §5.3.2 invalidityDate: keyCompromise with a time-stamp AFTER the invalidity date is refused, though revocation came after the stamp (revocation)", async () => {
    const signer = await newSigner(liveHome);
    const signature = await signStamped(signer);
    // Revoked at R + 1 day (after the token), but the key is invalid since R - 12 h (before it):
    // the cut-off is min(invalidityDate, revocationDate).
    await revokeAt(signer, at(DAY), { reason: "keyCompromise", invalidityDate: at(-12 * HOUR) });
    const crls = await crlsAt(at(2 * DAY));
    const v = await verify(signature, { crls: crls.ders, now: liveNow, tsaTrust: [readFileSync(tsa.root.certPath)] });
    assertRefused(v, "revocation", "not before the cut-off");
    assert.ok(v.reason.includes(`invalid since ${at(-12 * HOUR).toISOString()}`), v.reason);
    assert.equal(v.evidence.trustedTime?.source, "timestamp");
  });

  test("RFC 5280 §5.3.2 invalidityDate: keyCompromise with a time-stamp BEFORE the invalidity date stays valid, with a note", async () => {
    const signer = await newSigner(liveHome);
    const signature = await signStamped(signer);
    await revokeAt(signer, at(DAY), { reason: "keyCompromise", invalidityDate: at(12 * HOUR) });
    const crls = await crlsAt(at(2 * DAY));
    const v = await verify(signature, { crls: crls.ders, now: liveNow, tsaTrust: [readFileSync(tsa.root.certPath)] });
    assertValid(v);
    assert.equal(v.evidence.trustedTime?.source, "timestamp");
    assert.equal(v.evidence.revocation, "checked");
    assert.equal(v.evidence.notes.length, 1, v.evidence.notes.join("\n"));
    assert.ok(v.evidence.notes[0]!.includes(`was revoked at ${at(DAY).toISOString()} (reason 1, invalid since ${at(12 * HOUR).toISOString()})`), v.evidence.notes[0]);
    assert.ok(v.evidence.notes[0]!.endsWith("but the signature was time-stamped before the cut-off: still valid"), v.evidence.notes[0]);
  });

  test("RFC 5280 §5.3.1 superseded after the time-stamp: the signature stays valid, with a note", async () => {
    const signer = await newSigner(liveHome);
    const signature = await signStamped(signer);
    await revokeAt(signer, at(DAY), { reason: "superseded" });
    const crls = await crlsAt(at(2 * DAY));
    const v = await verify(signature, { crls: crls.ders, now: liveNow, tsaTrust: [readFileSync(tsa.root.certPath)] });
    assertValid(v);
    assert.equal(v.evidence.notes.length, 1, v.evidence.notes.join("\n"));
    assert.ok(v.evidence.notes[0]!.includes(`was revoked at ${at(DAY).toISOString()} (reason 4)`), v.evidence.notes[0]);
    assert.ok(v.evidence.notes[0]!.includes("still valid"), v.evidence.notes[0]);
  });

  test("RFC 5280 §5.3.1 superseded BEFORE the time-stamp: the signature is refused (revocation)", async () => {
    const signer = await newSigner(liveHome);
    await revokeAt(signer, at(-HOUR), { reason: "superseded" });
    const signature = await signStamped(signer); // a revoked key still signs; the stamp shows when
    const crls = await crlsAt(at(2 * DAY));
    const v = await verify(signature, { crls: crls.ders, now: liveNow, tsaTrust: [readFileSync(tsa.root.certPath)] });
    assertRefused(v, "revocation", "not before the cut-off");
  });

  test("fail closed: no CRL at all with revocation required (the default) is refused; the explicit opt-out revocation: 'off' passes", async () => {
    const signature = await sign(baseline);
    const v = await verify(signature, { crls: [] });
    assertRefused(v, "revocation", `no current CRL from "O=Acme Devices, CN=Acme Devices firmware CA" covers "O=Acme Devices, CN=${baseline.name}"`);
    const off = await verify(signature, { crls: [], revocation: "off" });
    assertValid(off);
    assert.equal(off.evidence.revocation, "not checked (explicitly turned off)");
    assert.equal(off.evidence.crls, undefined);
  });

  test("RFC 5280 §5.1.2.5 nextUpdate: a stale CRL (now after nextUpdate) is refused (revocation)", async () => {
    const signature = await sign(baseline);
    const stale = new Date(FIXED_NOW.getTime() + 8 * DAY); // the firmware CA's CRLs live 7 days, the root's 90
    const v = await verify(signature, { now: stale });
    assertRefused(v, "revocation", `no current CRL from "O=Acme Devices, CN=Acme Devices firmware CA"`);
    // A CRL not yet valid (thisUpdate after now) does not count either.
    const future = await crlsAt(new Date(FIXED_NOW.getTime() + 2 * HOUR));
    const early = await verify(signature, { crls: future.ders });
    assertRefused(early, "revocation", `no current CRL from "O=Acme Devices, CN=Acme Devices firmware CA"`);
  });

  test("RFC 5280 §6.3.3(f) CRL signature: a CRL of the same name signed by another CA's key is ignored (revocation: no current CRL)", async () => {
    const other = tempDir("trustline-fw-other-crl-");
    try {
      const foreign = await makeHome(other.dir); // same organisation, same CA names, other keys
      const foreignFirmware = await issueCrl(foreign, "firmware");
      const rootCrl = fixedCrls[1]!;
      const signature = await sign(baseline);
      const v = await verify(signature, { crls: [foreignFirmware.der, rootCrl] });
      assertRefused(v, "revocation", `no current CRL from "O=Acme Devices, CN=Acme Devices firmware CA"`);
    } finally {
      other.cleanup();
    }
  });
});

describe("refusals: the manifest (reference §8)", () => {
  test("manifest hardware model: an image for tc-100 is refused on a tc-200 (manifest)", async () => {
    const signature = await sign(baseline);
    assertValid(await verify(signature, { hardware: "tc-100" }));
    const v = await verify(signature, { hardware: "tc-200" });
    assertRefused(v, "manifest", 'the image is for hardware "tc-100", not "tc-200"');
  });

  test("manifest anti-rollback: security version 3 is refused when the minimum is 4, accepted at 3 (manifest)", async () => {
    const signature = await sign(baseline);
    assertValid(await verify(signature, { minSecurityVersion: 3 }));
    const v = await verify(signature, { minSecurityVersion: 4 });
    assertRefused(v, "manifest", "security version 3 is below the minimum 4");
  });
});

describe("evidence on success (reference §9)", () => {
  test("without a time-stamp: signer, 3-entry path to the root, firmware policy, trusted time 'now', CRL numbers, manifest", async () => {
    const signed = await signFirmware({ image, certificate: readFileSync(baseline.certPath), signer: signerFromKeyFile(baseline.keyPath), version: "1.0", hardware: "tc-100", securityVersion: 3, clock: fixedClock });
    const v = await verify(signed.der);
    assertValid(v);
    const e = v.evidence;
    assert.deepEqual(e.signer, {
      subject: `O=Acme Devices, CN=${baseline.name}`,
      issuer: "O=Acme Devices, CN=Acme Devices firmware CA",
      serial: baseline.issued.record.serial,
      sha256: createHash("sha256").update(baseline.issued.der).digest("hex"),
    });
    assert.deepEqual(
      e.path?.map((p) => [p.role, p.subject]),
      [
        ["target", `O=Acme Devices, CN=${baseline.name}`],
        ["intermediate", "O=Acme Devices, CN=Acme Devices firmware CA"],
        ["trust-anchor", "O=Acme Devices, CN=Acme Devices root CA"],
      ],
    );
    assert.ok(e.policies?.includes(POLICY_OIDS.firmwareSigning), String(e.policies));
    assert.deepEqual(e.trustedTime, { time: FIXED_VERIFY_NOW.toISOString(), source: "now" });
    assert.equal(e.timestamp, undefined);
    assert.equal(e.signingTime, FIXED_NOW.toISOString());
    assert.deepEqual(e.crls, [
      { issuer: "O=Acme Devices, CN=Acme Devices firmware CA", crlNumber: String(fixedCrlNumbers.firmware), thisUpdate: FIXED_NOW.toISOString(), nextUpdate: new Date(FIXED_NOW.getTime() + 7 * DAY).toISOString() },
      { issuer: "O=Acme Devices, CN=Acme Devices root CA", crlNumber: String(fixedCrlNumbers.root), thisUpdate: FIXED_NOW.toISOString(), nextUpdate: new Date(FIXED_NOW.getTime() + 90 * DAY).toISOString() },
    ]);
    assert.equal(e.revocation, "checked");
    assert.deepEqual(e.manifest, signed.manifest);
    assert.equal(e.manifest?.hardware, "tc-100");
    assert.equal(e.manifest?.securityVersion, 3);
    const bytes = readFileSync(image);
    assert.deepEqual(e.image, { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length });
    assert.deepEqual(e.notes, []);
  });

  test("RFC 3161 with a pinned TSA root: trusted time source 'timestamp' with the token's genTime, TSA and policy; without the TSA root, 'now' and a note", async () => {
    const signer = await newSigner(liveHome);
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const signature = await signStamped(signer);
    const t1 = Date.now();
    const crls = await crlsAt(at(2 * DAY));
    const v = await verify(signature, { crls: crls.ders, now: liveNow, tsaTrust: [readFileSync(tsa.root.certPath)] });
    assertValid(v);
    const e = v.evidence;
    assert.equal(e.trustedTime?.source, "timestamp");
    assert.equal(e.trustedTime?.time, e.timestamp?.genTime);
    const gen = Date.parse(e.timestamp!.genTime);
    assert.ok(gen >= t0 && gen <= t1, `genTime ${e.timestamp!.genTime} is when the TSA answered`);
    assert.equal(e.timestamp?.tsa, "O=Trustline tests, CN=test-tsa");
    assert.equal(e.timestamp?.policy, TSA_POLICY);
    assert.match(e.timestamp!.serial, /^[0-9a-f]+$/);
    assert.equal(e.path?.length, 3);
    assert.equal(e.path?.[2]?.role, "trust-anchor");
    assert.deepEqual(e.crls?.map((c) => c.crlNumber), [String(crls.firmware), String(crls.root)]);
    assert.deepEqual(e.notes, []);

    const unpinned = await verify(signature, { crls: crls.ders, now: liveNow });
    assertValid(unpinned);
    assert.deepEqual(unpinned.evidence.trustedTime, { time: liveNow.toISOString(), source: "now" });
    assert.equal(unpinned.evidence.timestamp, undefined);
    assert.deepEqual(unpinned.evidence.notes, ["the signature carries a time-stamp, but no TSA root was given (--tsa-trust): it was not used"]);
  });
});
