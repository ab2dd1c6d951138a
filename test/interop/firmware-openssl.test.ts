/**
 * Firmware signatures and OpenSSL (3.0) as referee: `openssl cms -verify` accepts what signFirmware
 * writes (P-256 and P-384 signers, with and without an RFC 3161 time-stamp), `openssl cms -cmsout
 * -print` reads back exactly the signed attributes and certificates we promise, and verifyFirmware
 * accepts what `openssl cms -sign -cades` writes. A 200 MB image signs and verifies in bounded memory.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, createPublicKey, verify as nodeVerify } from "node:crypto";
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import {
  exportCa,
  type Home,
  issueCrl,
  pemBlocks,
  signerFromKeyFile,
  signFirmware,
  verifyFirmware,
} from "../../ca/index.js";
import { CMS_OIDS, parseSignedData } from "../../ca/firmware/cms.js";
import { children, content, oidText, readRoot, readTlv, slice } from "../../ca/x509/der.js";
import { hardwareModelNumber } from "../../ca/firmware/manifest.js";
import { RFC4108_OIDS } from "../../ca/firmware/rfc4108.js";
import { DEFAULT_POLICY_ARC } from "../../policy/oids.js";
import { type SignerFiles, writeSigner } from "../helpers/firmware-signer.js";
import { FIXED_NOW, fixedClock, makeHome, REPO_ROOT, tempDir } from "../helpers/pki.js";
import { type LocalTsa, startTsa } from "../helpers/tsa.js";
import { openssl, opensslOk } from "./openssl.js";

/** The Trustline attribute of format 2 (the fields RFC 4108 has none for), under the home's (default) arc. */
const MANIFEST_OID = `${DEFAULT_POLICY_ARC}.2.2`;
/** tc-100's model number: the first 7 bytes of its SHA-256, as an integer. */
const TC100 = hardwareModelNumber("tc-100");
const VERIFY_NOW = new Date(FIXED_NOW.getTime() + 3_600_000);

interface Signer extends SignerFiles {
  readonly label: string;
  readonly curve: "P-256" | "P-384";
  readonly hash: "sha256" | "sha384";
  readonly signatureName: string;
}

let dir: string;
let cleanup: () => void;
let home: Home;
let tsa: LocalTsa;
let image: string;
let crls: Uint8Array[];
const signers = new Map<string, Signer>();
const path = (name: string) => join(dir, name);

async function makeSigner(curve: "P-256" | "P-384"): Promise<Signer> {
  const label = curve === "P-256" ? "p256" : "p384";
  const files = await writeSigner(home, dir, `ci-pipeline-${label}`, { curve });
  return {
    ...files,
    label,
    curve,
    hash: curve === "P-256" ? "sha256" : "sha384",
    signatureName: curve === "P-256" ? "ecdsa-with-SHA256" : "ecdsa-with-SHA384",
  };
}

async function signWith(s: Signer, options: { tsaUrl?: string } = {}): Promise<{ der: Uint8Array; file: string }> {
  const signature = await signFirmware({
    image,
    certificate: readFileSync(s.certPath),
    signer: signerFromKeyFile(s.keyPath),
    version: "1.0",
    hardware: "tc-100",
    securityVersion: 3,
    clock: fixedClock,
    ...options,
  });
  const file = path(`fw-${s.label}${options.tsaUrl ? "-ts" : ""}.p7s`);
  writeFileSync(file, signature.der);
  return { der: signature.der, file };
}

/** `openssl cms -verify` as the reference prescribes (3.0 has no -purpose codesign: EKU is ours). */
function opensslVerify(p7s: string, content = image) {
  return openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", p7s, "-content", content, "-CAfile", path("root.pem"), "-purpose", "any", "-out", "/dev/null"]);
}

/** The "object: name (oid)" lines of the signerInfo's signedAttrs in `openssl cms -cmsout -print`. */
function printedSignedAttributes(print: string): { name: string; oid: string; body: string }[] {
  const start = print.indexOf("\n        signedAttrs:\n");
  const end = print.indexOf("\n        signatureAlgorithm:", start);
  assert.ok(start > 0 && end > start, `no signedAttrs section in:\n${print}`);
  const section = print.slice(start, end);
  const out: { name: string; oid: string; body: string }[] = [];
  const re = /^ {12}object: (.+) \(([\d.]+)\)$/gm;
  const heads = [...section.matchAll(re)];
  heads.forEach((m, i) => out.push({ name: m[1]!, oid: m[2]!, body: section.slice(m.index! + m[0].length, heads[i + 1]?.index ?? section.length) }));
  return out;
}

/** Bytes of OpenSSL's "0000 - 2c 4b 10 ...-d4 a8" hex dump lines. */
function hexDump(body: string): string {
  return [...body.matchAll(/^\s+[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){1,16})/gm)].map((m) => m[1]!.replace(/[ -]/g, "")).join("");
}

/** The SignerInfo's [0] IMPLICIT signed attributes, read with our DER reader. */
function signedAttributeEncodings(der: Uint8Array): { raw: Uint8Array; items: Uint8Array[] } {
  const [, explicit] = children(der, readRoot(der));
  const sd = readTlv(der, explicit!.contentStart, explicit!.end);
  const signerInfos = children(der, sd).at(-1)!;
  assert.equal(signerInfos.tag, 0x31);
  const [signerInfo] = children(der, signerInfos);
  const attrs = children(der, signerInfo!).find((t) => t.tag === 0xa0)!;
  return { raw: slice(der, attrs), items: children(der, attrs).map((t) => slice(der, t)) };
}

before(async () => {
  ({ dir, cleanup } = tempDir("trustline-fw-interop-"));
  home = await makeHome(dir);
  writeFileSync(path("root.pem"), await exportCa(home, "root"));
  writeFileSync(path("firmware-ca.pem"), await exportCa(home, "firmware"));
  image = path("fw.bin");
  writeFileSync(image, Buffer.from(Array.from({ length: 512 * 1024 + 17 }, (_, i) => (i * 2654435761) >>> 24)));
  for (const curve of ["P-256", "P-384"] as const) {
    const s = await makeSigner(curve);
    signers.set(s.label, s);
  }
  crls = [(await issueCrl(home, "firmware")).der, (await issueCrl(home, "root")).der];
  tsa = await startTsa(dir);
});

after(async () => {
  await tsa?.close();
  cleanup?.();
});

for (const label of ["p256", "p384"]) {
  describe(`signFirmware with a ${label} signer`, () => {
    test(`RFC 5652 §5 detached SignedData: openssl cms -verify accepts our signature and refuses it over a changed image (${label})`, async () => {
      const s = signers.get(label)!;
      const { file } = await signWith(s);
      const ok = opensslVerify(file);
      assert.deepEqual([ok.status, ok.stderr], [0, "CMS Verification successful\n"]);
      const changed = path(`fw-changed-${label}.bin`);
      const bytes = readFileSync(image);
      bytes[1000] = bytes[1000]! ^ 0x80;
      writeFileSync(changed, bytes);
      const bad = opensslVerify(file, changed);
      assert.equal(bad.status, 4);
      assert.match(bad.stderr, /^CMS Verification failure$/m);
      assert.match(bad.stderr, /CMS_verify:content verify error/);
    });

    test(`RFC 5652 §5.3 / RFC 5035 / RFC 6211 / RFC 4108 §2.2 signed attributes as OpenSSL prints them: contentType, signingTime, messageDigest, signingCertificateV2, CMSAlgorithmProtection, firmwarePackageID, targetHardwareIDs, firmwarePackageInfo, the Trustline fields (${label})`, async () => {
      const s = signers.get(label)!;
      const { file, der } = await signWith(s);
      const print = opensslOk(["cms", "-cmsout", "-print", "-inform", "DER", "-in", file]);
      assert.match(print, new RegExp(`^ {8}digestAlgorithm: \\n {10}algorithm: ${s.hash} \\(`, "m"));
      assert.match(print, new RegExp(`^ {8}signatureAlgorithm: \\n {10}algorithm: ${s.signatureName} \\(`, "m"));
      assert.match(print, /^ {6}eContentType: pkcs7-data \(1\.2\.840\.113549\.1\.7\.1\)\n {6}eContent: <ABSENT>$/m, "detached");
      const attrs = printedSignedAttributes(print);
      assert.deepEqual(
        attrs.map((a) => a.oid).sort(),
        [
          CMS_OIDS.contentType,
          CMS_OIDS.signingTime,
          CMS_OIDS.algorithmProtection,
          CMS_OIDS.messageDigest,
          CMS_OIDS.signingCertificateV2,
          RFC4108_OIDS.firmwarePackageID,
          RFC4108_OIDS.targetHardwareIDs,
          RFC4108_OIDS.firmwarePackageInfo,
          MANIFEST_OID,
        ].sort(),
      );
      // OpenSSL lists them in file order, which is DER order (the X.690 test below checks the sort).
      const fileOrder = signedAttributeEncodings(der).items.map((a) => oidText(content(a, children(a, readRoot(a))[0]!)));
      assert.deepEqual(attrs.map((a) => a.oid), fileOrder);
      const by = new Map(attrs.map((a) => [a.oid, a]));
      assert.equal(by.get(CMS_OIDS.contentType)!.name, "contentType");
      assert.match(by.get(CMS_OIDS.contentType)!.body, /^\s+set:\n\s+OBJECT:pkcs7-data \(1\.2\.840\.113549\.1\.7\.1\)\n/);
      assert.equal(by.get(CMS_OIDS.signingTime)!.name, "signingTime");
      assert.match(by.get(CMS_OIDS.signingTime)!.body, /UTCTIME:Mar  1 12:00:00 2026 GMT/);
      assert.equal(by.get(CMS_OIDS.messageDigest)!.name, "messageDigest");
      assert.equal(hexDump(by.get(CMS_OIDS.messageDigest)!.body), createHash(s.hash).update(readFileSync(image)).digest("hex"));
      assert.equal(by.get(CMS_OIDS.signingCertificateV2)!.name, "id-smime-aa-signingCertificateV2");
      const certHash = createHash("sha256").update(s.issued.der).digest("hex").toUpperCase();
      assert.match(by.get(CMS_OIDS.signingCertificateV2)!.body, new RegExp(`OCTET STRING +\\[HEX DUMP\\]:${certHash}\\n`));
      // OpenSSL 3.0 has no short name for id-aa-CMSAlgorithmProtection: it prints "undefined".
      const protection = by.get(CMS_OIDS.algorithmProtection)!.body;
      assert.match(protection, new RegExp(`OBJECT +:${s.hash}\\n`));
      assert.match(protection, /cont \[ 1 \]/);
      assert.match(protection, new RegExp(`OBJECT +:${s.signatureName}\\n`));
      // RFC 4108 §2.2.1 FirmwarePackageIdentifier { preferred { fwPkgID, verNum 3 }, stale 2 }, §2.2.2 TargetHardwareIdentifiers, §2.2.5 FirmwarePackageInfo { fwPkgType 1 }.
      const asn1 = (oid: string) => [...by.get(oid)!.body.matchAll(/prim: +(\w+) +:(\S+)/g)].map((m) => `${m[1]} ${m[2]}`);
      assert.deepEqual(asn1(RFC4108_OIDS.firmwarePackageID), [`OBJECT ${DEFAULT_POLICY_ARC}.4.${TC100}`, "INTEGER 03", "INTEGER 02"]);
      assert.deepEqual(asn1(RFC4108_OIDS.targetHardwareIDs), [`OBJECT ${DEFAULT_POLICY_ARC}.3.${TC100}`]);
      assert.deepEqual(asn1(RFC4108_OIDS.firmwarePackageInfo), ["INTEGER 01"]);
      const manifest = JSON.parse(Buffer.from(hexDump(by.get(MANIFEST_OID)!.body), "hex").toString("utf8")) as Record<string, unknown>;
      assert.deepEqual(manifest, {
        createdAt: FIXED_NOW.toISOString(),
        format: "trustline-firmware-manifest/2",
        hardware: "tc-100",
        imageSha256: createHash("sha256").update(readFileSync(image)).digest("hex"),
        imageSize: readFileSync(image).length,
        name: "fw.bin",
        signerCertificateSha256: createHash("sha256").update(s.issued.der).digest("hex"),
        version: "1.0",
      });
      assert.ok(!print.includes("unsignedAttrs:\n            object"), "no unsigned attributes without a TSA");
    });

    test(`RFC 5652 §5.1 certificates: the signer and the firmware CA, not the root (${label})`, async () => {
      const s = signers.get(label)!;
      const { file, der } = await signWith(s);
      const listed = opensslOk(["pkcs7", "-inform", "DER", "-in", file, "-print_certs", "-noout"]);
      const subjects = [...listed.matchAll(/^subject=(.*)$/gm)].map((m) => m[1]).sort();
      assert.deepEqual(subjects, [`O = Acme Devices, CN = Acme Devices firmware CA`, `O = Acme Devices, CN = ci-pipeline-${label}`]);
      const embedded = parseSignedData(der).certificates.map((c) => Buffer.from(c).toString("hex")).sort();
      const expected = [s.issued.der, pemBlocks(readFileSync(path("firmware-ca.pem"), "latin1"))[0]!.der].map((c) => Buffer.from(c).toString("hex")).sort();
      assert.deepEqual(embedded, expected);
      assert.equal(parseSignedData(der).crls.length, 0);
    });

    test(`X.690 §11.6 DER SET OF: the signed attributes are sorted by encoding, and the signature covers them re-tagged as SET (${label})`, async () => {
      const s = signers.get(label)!;
      const { der } = await signWith(s);
      const { raw, items } = signedAttributeEncodings(der);
      assert.equal(items.length, 9);
      for (let i = 1; i < items.length; i++) {
        assert.ok(Buffer.compare(Buffer.from(items[i - 1]!), Buffer.from(items[i]!)) < 0, `attribute ${i - 1} sorts before attribute ${i}`);
      }
      const types = items.map((a) => oidText(content(a, children(a, readRoot(a))[0]!)));
      assert.deepEqual(new Set(types).size, 9, "no attribute type twice");
      // RFC 5652 §5.4: the signature is over the EXPLICIT SET OF (tag 0x31), not the [0] IMPLICIT form.
      const set = Uint8Array.from(raw);
      set[0] = 0x31;
      const si = parseSignedData(der).signerInfos[0]!;
      const key = createPublicKey(readFileSync(s.leafPath));
      assert.equal(nodeVerify(s.hash, set, key, si.signature), true);
      assert.equal(nodeVerify(s.hash, raw, key, si.signature), false);
    });

    test(`RFC 3161 time-stamped signature: openssl cms -verify accepts it; the token (id-smime-aa-timeStampToken) verifies with openssl ts over the signature value (${label})`, async () => {
      const s = signers.get(label)!;
      const granted = tsa.granted();
      const { file, der } = await signWith(s, { tsaUrl: tsa.url });
      assert.equal(tsa.granted(), granted + 1);
      const ok = opensslVerify(file);
      assert.deepEqual([ok.status, ok.stderr], [0, "CMS Verification successful\n"]);
      const print = opensslOk(["cms", "-cmsout", "-print", "-inform", "DER", "-in", file]);
      assert.match(print, /^ {8}unsignedAttrs:\n {12}object: id-smime-aa-timeStampToken \(1\.2\.840\.113549\.1\.9\.16\.2\.14\)$/m);
      const si = parseSignedData(der).signerInfos[0]!;
      const token = si.unsignedAttributes.find((a) => a.type === CMS_OIDS.timeStampToken)!.values[0]!;
      writeFileSync(path(`token-${label}.der`), token);
      writeFileSync(path(`sigvalue-${label}.bin`), si.signature);
      const ts = openssl(["ts", "-verify", "-token_in", "-in", path(`token-${label}.der`), "-data", path(`sigvalue-${label}.bin`), "-CAfile", tsa.root.certPath]);
      assert.equal(ts.status, 0, ts.stderr);
      assert.equal(ts.stdout, "Verification: OK\n");
      // And the token is over this signature value only: the image as data does not match.
      const wrong = openssl(["ts", "-verify", "-token_in", "-in", path(`token-${label}.der`), "-data", image, "-CAfile", tsa.root.certPath]);
      assert.notEqual(wrong.status, 0);
      assert.match(wrong.stderr, /message imprint mismatch/);
      const v = await verifyFirmware({ image, signature: der, trust: [readFileSync(path("root.pem"))], crls, tsaTrust: [readFileSync(tsa.root.certPath)], now: VERIFY_NOW });
      assert.equal(v.valid, true, v.valid ? "" : `${v.check}: ${v.reason}`);
      assert.equal(v.evidence.trustedTime?.source, "timestamp");
    });
  });
}

describe("signatures made by OpenSSL", () => {
  test("reference §OpenSSL: verifyFirmware accepts `openssl cms -sign -cades` (no CMSAlgorithmProtection, no manifest) and notes the missing manifest", async () => {
    const s = signers.get("p256")!;
    const out = path("openssl-cades.p7s");
    const r = openssl(["cms", "-sign", "-binary", "-in", image, "-md", "sha256", "-signer", s.leafPath, "-inkey", s.keyPath, "-certfile", path("firmware-ca.pem"), "-nosmimecap", "-cades", "-outform", "DER", "-out", out]);
    assert.equal(r.status, 0, r.stderr);
    const der = readFileSync(out);
    const types = parseSignedData(der).signerInfos[0]!.signedAttributes.map((a) => a.type).sort();
    assert.deepEqual(types, [CMS_OIDS.contentType, CMS_OIDS.messageDigest, CMS_OIDS.signingTime, CMS_OIDS.signingCertificateV2].sort(), "what OpenSSL 3.0 writes with -cades");
    const v = await verifyFirmware({ image, signature: der, trust: [readFileSync(path("root.pem"))], crls, now: VERIFY_NOW });
    assert.equal(v.valid, true, v.valid ? "" : `${v.check}: ${v.reason}`);
    assert.equal(v.evidence.manifest, undefined);
    assert.deepEqual(v.evidence.notes, ["the signature has no Trustline manifest (e.g. made by openssl cms): only the image digest binds it"]);
    assert.equal(v.evidence.signer?.subject, "O=Acme Devices, CN=ci-pipeline-p256");
    assert.equal(v.evidence.path?.length, 3);
    // Without a manifest, a hardware or anti-rollback requirement cannot be met.
    const hw = await verifyFirmware({ image, signature: der, trust: [readFileSync(path("root.pem"))], crls, now: VERIFY_NOW, hardware: "tc-100" });
    assert.equal(hw.valid, false);
    if (!hw.valid) {
      assert.equal(hw.check, "manifest");
      assert.match(hw.reason, /has no manifest/);
    }
  });
});

describe("a 200 MB image", () => {
  test("streaming: a 200 MiB image signs and verifies in a child process whose peak RSS stays within 100 MB of its start", async (t) => {
    const big = path("big.bin");
    const size = 200 * 1024 * 1024;
    const fd = openSync(big, "w");
    try {
      // Sparse, with a few non-zero marks so the digest is not that of zeros only.
      for (const at of [0, 1 << 20, 77_777_777, size - 16]) writeSync(fd, Buffer.from("trustline-mark!!"), 0, 16, at);
    } finally {
      closeSync(fd);
    }
    writeFileSync(path("firmware.crl"), crls[0]!);
    writeFileSync(path("root.crl"), crls[1]!);
    const script = path("big.mjs");
    writeFileSync(
      script,
      `import { readFileSync } from "node:fs";
import { signFirmware, signerFromKeyFile, verifyFirmware } from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, "dist/ca/index.js")).href)};
const cfg = JSON.parse(process.env.FW_CFG);
const start = process.memoryUsage().rss;
const signature = await signFirmware({ image: cfg.image, certificate: readFileSync(cfg.cert), signer: signerFromKeyFile(cfg.key), version: "big", hardware: "tc-100", securityVersion: 1 });
const afterSign = process.memoryUsage().rss;
const verdict = await verifyFirmware({ image: cfg.image, signature: signature.der, trust: [readFileSync(cfg.root)], crls: cfg.crls.map((f) => readFileSync(f)), now: new Date(cfg.now) });
const afterVerify = process.memoryUsage().rss;
process.stdout.write(JSON.stringify({ start, afterSign, afterVerify, peak: process.resourceUsage().maxRSS * 1024, manifest: signature.manifest, valid: verdict.valid, check: verdict.check ?? null, reason: verdict.reason ?? null }));
`,
    );
    const s = signers.get("p256")!;
    const cfg = { image: big, cert: s.certPath, key: s.keyPath, root: path("root.pem"), crls: [path("firmware.crl"), path("root.crl")], now: VERIFY_NOW.toISOString() };
    const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? "", FW_CFG: JSON.stringify(cfg) }, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", reject);
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
    assert.equal(result.status, 0, result.stderr);
    const out = JSON.parse(result.stdout) as { start: number; afterSign: number; afterVerify: number; peak: number; manifest: { imageSize: number; imageSha256: string }; valid: boolean; check: string | null; reason: string | null };
    assert.equal(out.valid, true, `${out.check}: ${out.reason}`);
    assert.equal(out.manifest.imageSize, size);
    const dgst = opensslOk(["dgst", "-sha256", "-r", big]);
    assert.equal(out.manifest.imageSha256, dgst.split(" ")[0]);
    const MB = 1024 * 1024;
    const growth = { sign: (out.afterSign - out.start) / MB, verify: (out.afterVerify - out.start) / MB, peak: (out.peak - out.start) / MB };
    t.diagnostic(`RSS growth (MB): ${JSON.stringify(growth)}`);
    assert.ok(growth.peak < 100, `peak RSS grew by ${growth.peak.toFixed(1)} MB for a 200 MB image: ${JSON.stringify(growth)}`);
    assert.ok(growth.sign < 100 && growth.verify < 100, JSON.stringify(growth));
  });
});
