/**
 * `trustline firmware sign|verify` as a CI pipeline and an update server run them: a home made by
 * the CLI, a signer certificate from `issue signer --chain`, CRLs from `trustline crl`, then
 * sign, verify, and the documented exit statuses (0 valid, 1 invalid with the failing check named,
 * 3 unreadable input).
 */
import { hardwareModelNumber } from "../../ca/firmware/manifest.js";
import { DEFAULT_POLICY_ARC } from "../../policy/oids.js";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, opensslCsr, tempDir } from "../helpers/pki.js";
import { type LocalTsa, startTsa } from "../helpers/tsa.js";
import { type CliResult, describeRun, expectError, initCliHome, json, runNode, type TestHome } from "./cli-helpers.js";

let dir: string;
let cleanup: () => void;
let h: TestHome;
/** A working folder without a ./pki in it: the verifier is not next to a CA home. */
let work: string;
let image: string;
let signerSerial: string;
let signOutput: any;
let tsa: LocalTsa;
const p = (name: string) => join(work, name);

/** Run the CLI in `work` (so the default ./pki does not exist there). */
function cli(args: readonly string[]): Promise<CliResult> {
  return runNode([CLI, ...args], { cwd: work, timeoutMs: 30_000 });
}

function ok(r: CliResult): void {
  assert.equal(r.status, 0, `expected exit 0:\n${describeRun(r)}`);
}

const VERIFY = () => ["firmware", "verify", image, "--signature", `${image}.p7s`, "--trust", p("root.pem")];
const CRLS = () => ["--crl", p("firmware.crl"), "--crl", p("root.crl")];

before(async () => {
  ({ dir, cleanup } = tempDir("trustline-cli-fw-"));
  h = initCliHome(dir);
  work = join(dir, "work");
  mkdirSync(work);
  const csr = opensslCsr(work, "signer", "/CN=ignored");
  const actor = ["--operator", "alice", "--station", "line-1"];
  const issued = await cli([...h.g, ...actor, "--json", "issue", "signer", "--csr", csr.csrPath, "--name", "ci-pipeline", "--out", p("signer.pem"), "--chain"]);
  ok(issued);
  signerSerial = json(issued).serial;
  assert.equal(json(issued).operator, "alice");
  ok(await cli([...h.g, "ca", "export", "root", "--out", p("root.pem")]));
  ok(await cli([...h.g, "crl", "--ca", "firmware", "--out", p("firmware.crl")]));
  ok(await cli([...h.g, "crl", "--ca", "root", "--out", p("root.crl")]));
  image = p("fw.bin");
  writeFileSync(image, Buffer.from(Array.from({ length: 256 * 1024 + 3 }, (_, i) => (i * 31 + (i >> 8)) & 0xff)));
  const signed = await cli(["firmware", "sign", image, "--cert", p("signer.pem"), "--key", p("signer.key"), "--version", "1.0", "--hardware", "tc-100", "--security-version", "3", "--json"]);
  ok(signed);
  signOutput = json(signed);
  tsa = await startTsa(dir);
});

after(async () => {
  await tsa?.close();
  cleanup?.();
});

describe("trustline firmware sign", () => {
  test("sign --json: exit 0, writes <image>.p7s, prints the signer and the signed manifest", () => {
    assert.ok(existsSync(`${image}.p7s`));
    const bytes = readFileSync(image);
    const cert = readFileSync(p("signer.pem"), "utf8");
    const leafDer = Buffer.from(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(cert)![1]!.replace(/\s+/g, ""), "base64");
    assert.equal(signOutput.signature, `${image}.p7s`);
    assert.equal(signOutput.timestamped, false);
    assert.equal(signOutput.signer.subject, "O=Acme Devices, CN=ci-pipeline");
    assert.match(signOutput.signer.serial, /^[0-9a-f]{2,40}$/);
    assert.equal(signOutput.signer.serial, signerSerial);
    const { createdAt, ...manifest } = signOutput.manifest;
    assert.ok(Math.abs(Date.parse(createdAt) - Date.now()) < 120_000, `createdAt ${createdAt} is the signing time`);
    const model = hardwareModelNumber("tc-100");
    assert.deepEqual(manifest, {
      format: "trustline-firmware-manifest/2",
      name: "fw.bin",
      version: "1.0",
      hardware: "tc-100",
      securityVersion: 3,
      imageSha256: createHash("sha256").update(bytes).digest("hex"),
      imageSize: bytes.length,
      signerCertificateSha256: createHash("sha256").update(leafDer).digest("hex"),
      firmwarePackage: {
        packageOid: `${DEFAULT_POLICY_ARC}.4.${model}`,
        versionNumber: 3,
        staleVersion: 2,
        targetHardwareOids: [`${DEFAULT_POLICY_ARC}.3.${model}`],
        packageType: 1,
        arc: DEFAULT_POLICY_ARC,
      },
    });
  });

  test("sign refuses to overwrite an existing signature without --force (exit 4, ALREADY_EXISTS)", async () => {
    const r = await cli(["firmware", "sign", image, "--cert", p("signer.pem"), "--key", p("signer.key"), "--json"]);
    expectError(r, 4, "ALREADY_EXISTS");
  });
});

describe("trustline firmware sign --tsa / verify --tsa-trust (RFC 3161, local OpenSSL TSA)", () => {
  test("sign --tsa time-stamps the signature; verify --tsa-trust takes the trusted time from the token", async () => {
    const out = p("fw-ts.p7s");
    const granted = tsa.granted();
    const signed = await cli(["firmware", "sign", image, "--cert", p("signer.pem"), "--key", p("signer.key"), "--out", out, "--tsa", tsa.url, "--json"]);
    ok(signed);
    assert.equal(json(signed).timestamped, true);
    assert.equal(tsa.granted(), granted + 1);
    const r = await cli(["firmware", "verify", image, "--signature", out, "--trust", p("root.pem"), ...CRLS(), "--tsa-trust", tsa.root.certPath, "--json"]);
    ok(r);
    const e = json(r).evidence;
    assert.equal(e.trustedTime.source, "timestamp");
    assert.equal(e.trustedTime.time, e.timestamp.genTime);
    assert.equal(e.timestamp.tsa, "O=Trustline tests, CN=test-tsa");
    const unpinned = await cli(["firmware", "verify", image, "--signature", out, "--trust", p("root.pem"), ...CRLS(), "--json"]);
    ok(unpinned);
    assert.equal(json(unpinned).evidence.trustedTime.source, "now");
    assert.deepEqual(json(unpinned).evidence.notes, ["the signature carries a time-stamp, but no TSA root was given (--tsa-trust): it was not used"]);
  });

  test("sign --tsa with a TSA that does not answer: exit 3 (INPUT_INVALID) and no signature file is left", async () => {
    const out = p("fw-no-tsa.p7s");
    const r = await cli(["firmware", "sign", image, "--cert", p("signer.pem"), "--key", p("signer.key"), "--out", out, "--tsa", "http://127.0.0.1:9/tsr", "--json"]);
    const error = expectError(r, 3, "INPUT_INVALID");
    assert.match(error.message, /time-stamp authority at http:\/\/127\.0\.0\.1:9\/tsr did not answer/);
    assert.equal(existsSync(out), false);
  });
});

describe("trustline firmware verify", () => {
  test("verify with the pinned root and both CRLs --json: exit 0, valid, with the evidence", async () => {
    const r = await cli([...VERIFY(), ...CRLS(), "--json"]);
    ok(r);
    const doc = json(r);
    assert.equal(doc.valid, true);
    const e = doc.evidence;
    assert.equal(e.signer.subject, "O=Acme Devices, CN=ci-pipeline");
    assert.equal(e.signer.serial, signOutput.signer.serial);
    assert.deepEqual(
      e.path.map((c: { role: string; subject: string }) => [c.role, c.subject]),
      [
        ["target", "O=Acme Devices, CN=ci-pipeline"],
        ["intermediate", "O=Acme Devices, CN=Acme Devices firmware CA"],
        ["trust-anchor", "O=Acme Devices, CN=Acme Devices root CA"],
      ],
    );
    assert.equal(e.trustedTime.source, "now");
    assert.deepEqual(
      e.crls.map((c: { issuer: string; crlNumber: string }) => [c.issuer, c.crlNumber]),
      [
        ["O=Acme Devices, CN=Acme Devices firmware CA", "1"],
        ["O=Acme Devices, CN=Acme Devices root CA", "1"],
      ],
    );
    assert.equal(e.revocation, "checked");
    assert.deepEqual(e.manifest, signOutput.manifest);
    assert.equal(doc.trace, undefined, "no CA home next to this verifier: no trace");
    assert.equal(existsSync(p("pki")), false, "looking for a home to trace the signer did not create one");
  });

  test("verify without --json prints VALID and the chain, exit 0", async () => {
    const r = await cli([...VERIFY(), ...CRLS()]);
    ok(r);
    assert.match(r.stdout, /^VALID: .*fw\.bin$/m);
    assert.match(r.stdout, /^ {2}chain O=Acme Devices, CN=ci-pipeline <- O=Acme Devices, CN=Acme Devices firmware CA <- O=Acme Devices, CN=Acme Devices root CA$/m);
    assert.match(r.stdout, /^ {2}manifest version 1\.0, hardware tc-100, security version 3$/m);
  });

  test("a tampered image: exit 1, check message-digest in the JSON", async () => {
    const bytes = readFileSync(image);
    bytes[4096] = bytes[4096]! ^ 0x01;
    const tampered = p("fw-tampered.bin");
    writeFileSync(tampered, bytes);
    const r = await cli(["firmware", "verify", tampered, "--signature", `${image}.p7s`, "--trust", p("root.pem"), ...CRLS(), "--json"]);
    assert.equal(r.status, 1, describeRun(r));
    const doc = json(r);
    assert.equal(doc.valid, false);
    assert.equal(doc.check, "message-digest");
    assert.match(doc.reason, /does not match the signed messageDigest/);
  });

  test("a missing signature file: exit 3 (NOT_FOUND), nothing verified", async () => {
    const r = await cli(["firmware", "verify", image, "--signature", p("absent.p7s"), "--trust", p("root.pem"), ...CRLS(), "--json"]);
    const error = expectError(r, 3, "NOT_FOUND");
    assert.match(error.message, /absent\.p7s/);
  });

  test("--min-security-version 4 against security version 3: exit 1, check manifest (anti-rollback); 3 passes", async () => {
    const r = await cli([...VERIFY(), ...CRLS(), "--min-security-version", "4", "--json"]);
    assert.equal(r.status, 1, describeRun(r));
    const doc = json(r);
    assert.equal(doc.check, "manifest");
    assert.match(doc.reason, /security version 3 is below the minimum 4/);
    ok(await cli([...VERIFY(), ...CRLS(), "--min-security-version", "3", "--hardware", "tc-100", "--json"]));
  });

  test("revocation: without CRLs exit 1 (check revocation); --no-revocation without CRLs is the explicit opt-out, exit 0", async () => {
    const refused = await cli([...VERIFY(), "--json"]);
    assert.equal(refused.status, 1, describeRun(refused));
    assert.equal(json(refused).check, "revocation");
    const r = await cli([...VERIFY(), "--no-revocation", "--json"]);
    ok(r);
    const doc = json(r);
    assert.equal(doc.valid, true);
    assert.equal(doc.evidence.revocation, "not checked (explicitly turned off)");
  });

  test("with --home pointing at the issuing home: the JSON carries the signer's trace (certifiedBy, station, CA, profile)", async () => {
    const r = await cli([...VERIFY(), ...CRLS(), "--home", h.home, "--json"]);
    ok(r);
    const doc = json(r);
    assert.equal(doc.valid, true);
    assert.ok(doc.trace, `no trace:\n${r.stdout}`);
    assert.equal(doc.trace.certifiedBy, "alice");
    assert.equal(doc.trace.station, "line-1");
    assert.equal(doc.trace.ca, "firmware");
    assert.equal(doc.trace.profile, "firmware-signer");
    assert.match(doc.trace.requestSha256, /^[0-9a-f]{64}$/);
  });

  test("--help of sign and verify shows examples (and verify documents its exit statuses)", async () => {
    const sign = await cli(["firmware", "sign", "--help"]);
    ok(sign);
    assert.match(sign.stdout, /^Examples:$/m);
    assert.match(sign.stdout, /^ {2}\$ trustline firmware sign .*--cert .*--key /m);
    const verify = await cli(["firmware", "verify", "--help"]);
    ok(verify);
    assert.match(verify.stdout, /^Examples:$/m);
    assert.match(verify.stdout, /^ {2}\$ trustline firmware verify .*--signature .*--trust /m);
    assert.match(verify.stdout, /Exit status: 0 valid; 1 invalid \(the first failing check is named\); 2 usage; 3 unreadable input\./);
  });
});
