/**
 * Format 2 of the firmware manifest: RFC 4108 §2.2 attributes where they fit (firmwarePackageID with
 * verNum = security version and stale = security version - 1, targetHardwareIDs, firmwarePackageInfo)
 * under the organisation's arc, the rest under <arc>.2.2. What signFirmware writes, read back with
 * the DER reader; --hardware and --min-security-version on it; malformed or inconsistent attributes
 * refused (check "manifest").
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createCsr, exportCa, type Home, issueCrl, issueSignerCertificate, signerFromKeyFile, signFirmware, toPem, verifyFirmware } from "../../ca/index.js";
import { type Attribute, parseSignedData } from "../../ca/firmware/cms.js";
import { firmwareArcOf, hardwareModelNumber, hardwareModelOid, readSignedManifest } from "../../ca/firmware/manifest.js";
import { decodeFirmwarePackageId, encodeFirmwarePackageId, encodeTargetHardwareIds, RFC4108_OIDS, unsignedInteger } from "../../ca/firmware/rfc4108.js";
import { oid, sequence, tlv } from "../../ca/x509/der.js";
import { DEFAULT_POLICY_ARC, LEGACY_TRUSTLINE_ARC } from "../../policy/index.js";
import { ecKey, FIXED_NOW, fixedClock, makeHome, tempDir } from "../helpers/pki.js";

const ARC = "1.3.6.1.4.1.32473.42";
const VERIFY_NOW = new Date(FIXED_NOW.getTime() + 3_600_000);

describe("RFC 4108 attributes", () => {
  test("FirmwarePackageIdentifier round trip, DER as RFC 4108 §2.2.1 writes it", () => {
    const der = encodeFirmwarePackageId({ packageOid: "1.3.6.1.4.1.32473.1.4.7", versionNumber: 128, staleVersion: 127 });
    assert.equal(Buffer.from(der).toString("hex"), "3016" + "3011" + "060b2b0601040181fd59010407" + "02020080" + "02017f");
    assert.deepEqual(decodeFirmwarePackageId(der), { packageOid: "1.3.6.1.4.1.32473.1.4.7", versionNumber: 128, staleVersion: 127 });
    assert.deepEqual(decodeFirmwarePackageId(encodeFirmwarePackageId({ packageOid: "1.2.3", versionNumber: 0 })), { packageOid: "1.2.3", versionNumber: 0 });
  });

  test("hardware model numbers: the first 7 bytes of SHA-256, below 2^56", () => {
    assert.equal(hardwareModelNumber("tc-100"), BigInt("0x157ead65126eb9"), "fixed by the name alone");
    assert.ok(hardwareModelNumber("x") < 2n ** 56n);
    assert.equal(hardwareModelOid("tc-100", ARC), `${ARC}.3.${hardwareModelNumber("tc-100")}`);
  });

  test("the arc comes from the signer's firmware policy; the legacy arc or none gives the default", () => {
    assert.equal(firmwareArcOf([`${ARC}.1.2`]), ARC);
    assert.equal(firmwareArcOf([`${ARC}.1.1`]), DEFAULT_POLICY_ARC);
    assert.equal(firmwareArcOf([`${LEGACY_TRUSTLINE_ARC}.1.2`]), DEFAULT_POLICY_ARC);
    assert.equal(firmwareArcOf([]), DEFAULT_POLICY_ARC);
  });

  const pkgId = (value: Uint8Array): Attribute => ({ type: RFC4108_OIDS.firmwarePackageID, values: [value] });
  const cases: { name: string; attributes: Attribute[]; error: RegExp }[] = [
    { name: "a package that declares itself stale", attributes: [pkgId(encodeFirmwarePackageId({ packageOid: `${ARC}.4.1`, versionNumber: 3, staleVersion: 3 }))], error: /declares its own version 3 stale/ },
    { name: "a legacy (OCTET STRING) package name", attributes: [pkgId(sequence(tlv(0x04, Uint8Array.of(1))))], error: /legacy \(OCTET STRING\) name/ },
    { name: "a negative verNum", attributes: [pkgId(sequence(sequence(oid(`${ARC}.4.1`), tlv(0x02, Uint8Array.of(0xff)))))], error: /verNum is negative/ },
    { name: "a non-minimal verNum", attributes: [pkgId(sequence(sequence(oid(`${ARC}.4.1`), tlv(0x02, Uint8Array.of(0, 1)))))], error: /non-minimal INTEGER/ },
    { name: "two firmwarePackageID attributes", attributes: [pkgId(encodeFirmwarePackageId({ packageOid: `${ARC}.4.1`, versionNumber: 1 })), pkgId(encodeFirmwarePackageId({ packageOid: `${ARC}.4.1`, versionNumber: 9 }))], error: /must appear once/ },
    {
      name: "targetHardwareIDs that disagree with the manifest's hardware",
      attributes: [
        pkgId(encodeFirmwarePackageId({ packageOid: `${ARC}.4.${hardwareModelNumber("tc-100")}`, versionNumber: 1 })),
        { type: RFC4108_OIDS.targetHardwareIDs, values: [encodeTargetHardwareIds([hardwareModelOid("tc-200", ARC)])] },
        { type: `${ARC}.2.2`, values: [tlv(0x04, new TextEncoder().encode(JSON.stringify({ format: "trustline-firmware-manifest/2", hardware: "tc-100" })))] },
      ],
      error: /hardware "tc-100" disagrees with the RFC 4108 package and target hardware OIDs/,
    },
  ];
  for (const c of cases) {
    test(`refused: ${c.name}`, () => {
      assert.throws(() => readSignedManifest(c.attributes), (e: unknown) => e instanceof Error && "code" in e && e.code === "INPUT_INVALID" && c.error.test(e.message));
    });
  }

  test("RFC 4108 attributes alone (another signer's): the package's version and targets still serve the checks", () => {
    const r = readSignedManifest([pkgId(encodeFirmwarePackageId({ packageOid: "1.2.3.4", versionNumber: 5 }))]);
    assert.deepEqual(r, { kind: "package-only", firmwarePackage: { packageOid: "1.2.3.4", versionNumber: 5, targetHardwareOids: [] } });
    assert.equal(unsignedInteger(5).length, 3);
  });
});

describe("signatures made by signFirmware", () => {
  let t: ReturnType<typeof tempDir>;
  let home: Home;
  let image: string;
  let certPath: string;
  let keyPath: string;
  let trust: Uint8Array;
  let crls: Uint8Array[];
  before(async () => {
    t = tempDir("trustline-rfc4108-");
    home = await makeHome(t.dir, { policyArc: ARC });
    const { privateKey } = ecKey();
    keyPath = join(t.dir, "signer.key");
    writeFileSync(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }));
    const issued = await issueSignerCertificate(home, createCsr(privateKey, "x"), "ci");
    certPath = join(t.dir, "signer.pem");
    writeFileSync(certPath, issued.pem + issued.chain.join(""));
    image = join(t.dir, "fw.bin");
    writeFileSync(image, Buffer.alloc(10_000, 7));
    trust = new TextEncoder().encode(await exportCa(home, "root"));
    crls = await Promise.all(["firmware", "root"].map(async (ca) => new TextEncoder().encode(toPem((await issueCrl(home, ca)).der, "X509 CRL"))));
  });
  after(() => t.cleanup());

  const sign = (options: { hardware?: string; securityVersion?: number } = {}) => signFirmware({ image, certificate: readFileSync(certPath), signer: signerFromKeyFile(keyPath), version: "2.0", clock: fixedClock, ...options });
  const verify = (der: Uint8Array, options: { hardware?: string; minSecurityVersion?: number } = {}) =>
    verifyFirmware({ image, signature: der, trust: [trust], crls, now: VERIFY_NOW, requiredPolicy: `${ARC}.1.2`, ...options });

  test("the home's arc (from the signer certificate) names the package and the hardware; verNum and stale carry the security version", async () => {
    const s = await sign({ hardware: "tc-100", securityVersion: 12 });
    const si = parseSignedData(s.der).signerInfos[0]!;
    const value = (type: string) => si.signedAttributes.find((a) => a.type === type)?.values[0];
    const n = hardwareModelNumber("tc-100");
    assert.deepEqual(decodeFirmwarePackageId(value(RFC4108_OIDS.firmwarePackageID)!), { packageOid: `${ARC}.4.${n}`, versionNumber: 12, staleVersion: 11 });
    assert.equal(Buffer.from(value(RFC4108_OIDS.targetHardwareIDs)!).toString("hex"), Buffer.from(encodeTargetHardwareIds([`${ARC}.3.${n}`])).toString("hex"));
    assert.equal(Buffer.from(value(RFC4108_OIDS.firmwarePackageInfo)!).toString("hex"), "3003020101");
    assert.ok(value(`${ARC}.2.2`));
    assert.equal(value(`${LEGACY_TRUSTLINE_ARC}.2.1`), undefined, "no format-1 attribute any more");
    const v = await verify(s.der, { hardware: "tc-100", minSecurityVersion: 12 });
    assert.equal(v.valid, true, v.valid ? "" : `${v.check}: ${v.reason}`);
    assert.equal(v.evidence.manifest?.securityVersion, 12);
    assert.equal(v.evidence.manifest?.format, "trustline-firmware-manifest/2");
  });

  test("--min-security-version refuses an image below the minimum; --hardware another model", async () => {
    const s = await sign({ hardware: "tc-100", securityVersion: 12 });
    const low = await verify(s.der, { minSecurityVersion: 13 });
    assert.deepEqual(low.valid ? [] : [low.check, low.reason], ["manifest", "security version 12 is below the minimum 13 (anti-rollback)"]);
    const other = await verify(s.der, { hardware: "tc-200" });
    assert.deepEqual(other.valid ? [] : [other.check, other.reason], ["manifest", 'the image is for hardware "tc-100", not "tc-200"']);
  });

  test("security version 0: no stale version; hardware any: no targetHardwareIDs, and --hardware refuses it", async () => {
    const s = await sign();
    const si = parseSignedData(s.der).signerInfos[0]!;
    assert.equal(si.signedAttributes.some((a) => a.type === RFC4108_OIDS.targetHardwareIDs), false);
    assert.deepEqual(s.manifest.firmwarePackage?.staleVersion, undefined);
    assert.equal((await verify(s.der, { minSecurityVersion: 0 })).valid, true);
    const hw = await verify(s.der, { hardware: "tc-100" });
    assert.equal(!hw.valid && hw.check, "manifest");
  });
});
