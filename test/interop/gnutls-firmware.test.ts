/**
 * Firmware signatures and GnuTLS (certtool --p7-verify, RFC 5652 §5.6) as the second referee: a
 * signature made now (RFC 4108 attributes under the home's arc) verifies with certtool, with
 * `openssl cms -verify` and with `trustline firmware verify`, for P-256 and P-384 signers; certtool
 * refuses it over another image, under a foreign root, and for the clientAuth purpose. The format-1
 * fixture (a 128-bit 2.25 arc in its manifest attribute) is what GnuTLS could not open: certtool
 * still cannot, which is why the format changed, while Trustline keeps verifying it.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { exportCa, type Home, signerFromKeyFile, signFirmware } from "../../ca/index.js";
import { EKU_OIDS } from "../../policy/index.js";
import { writeSigner } from "../helpers/firmware-signer.js";
import { fixedClock, makeHome, REPO_ROOT, runCli, tempDir } from "../helpers/pki.js";
import { GNUTLS_MISSING, gnutls } from "./gnutls.js";
import { openssl } from "./openssl.js";

describe("firmware signatures, with GnuTLS certtool --p7-verify as referee", { skip: GNUTLS_MISSING, timeout: 120_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let home: Home;
  const path = (name: string) => join(t.dir, name);
  const p7verify = (p7s: string, data: string, root = "root.pem", extra: readonly string[] = []) =>
    gnutls("certtool", ["--p7-verify", "--inder", "--infile", p7s, "--load-data", data, "--load-ca-certificate", root, ...extra], { cwd: t.dir });

  before(async () => {
    t = tempDir("trustline-gnutls-fw-");
    home = await makeHome(t.dir);
    writeFileSync(path("root.pem"), await exportCa(home, "root"));
    const foreign = await makeHome(join(t.dir, "foreign"));
    writeFileSync(path("foreign-root.pem"), await exportCa(foreign, "root"));
    writeFileSync(path("fw.bin"), Buffer.from(Array.from({ length: 64 * 1024 + 3 }, (_, i) => (i * 2654435761) >>> 24)));
    writeFileSync(path("other.bin"), Buffer.alloc(64 * 1024 + 3, 1));
    for (const curve of ["P-256", "P-384"] as const) {
      const s = await writeSigner(home, t.dir, `ci-${curve}`, { curve });
      const signature = await signFirmware({ image: path("fw.bin"), certificate: readFileSync(s.certPath), signer: signerFromKeyFile(s.keyPath), version: "3.1", hardware: "tc-100", securityVersion: 5, clock: fixedClock });
      writeFileSync(path(`fw-${curve}.p7s`), signature.der);
    }
  });
  after(() => t?.cleanup());

  for (const curve of ["P-256", "P-384"] as const) {
    test(`a new signature (${curve}) verifies with certtool --p7-verify, openssl cms -verify and trustline firmware verify`, () => {
      const g = p7verify(`fw-${curve}.p7s`, "fw.bin");
      assert.equal(g.status, 0, g.stdout + g.stderr);
      assert.match(g.stderr, /^\tSignature status: ok$/m);
      assert.match(g.stdout, /^\tSigner's issuer DN: CN=Acme Devices firmware CA,O=Acme Devices$/m);
      assert.match(g.stdout, /^\tSigning time: Sun Mar 01 12:00:00 UTC 2026$/m);
      const o = openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", path(`fw-${curve}.p7s`), "-content", path("fw.bin"), "-CAfile", path("root.pem"), "-purpose", "any", "-out", "/dev/null"]);
      assert.deepEqual([o.status, o.stderr], [0, "CMS Verification successful\n"]);
      const args = ["firmware", "verify", path("fw.bin"), "--signature", path(`fw-${curve}.p7s`), "--trust", path("root.pem"), "--no-revocation", "--hardware", "tc-100"];
      const ok = runCli([...args, "--min-security-version", "5"]);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /^VALID: /);
      const low = runCli([...args, "--min-security-version", "6", "--json"]);
      assert.equal(low.status, 1);
      assert.equal(JSON.parse(low.stdout).reason, "security version 5 is below the minimum 6 (anti-rollback)");
    });
  }

  test("refusing cases: certtool refuses another image, a foreign root, and the clientAuth purpose", () => {
    const image = p7verify("fw-P-256.p7s", "other.bin");
    assert.equal(image.status, 1);
    assert.match(image.stderr, /Signature status: verification failed: Public key signature verification has failed\./);
    const root = p7verify("fw-P-256.p7s", "fw.bin", "foreign-root.pem");
    assert.equal(root.status, 1);
    assert.match(root.stderr, /Signature status: verification failed/);
    const purpose = p7verify("fw-P-256.p7s", "fw.bin", "root.pem", ["--verify-purpose", EKU_OIDS.clientAuth]);
    assert.equal(purpose.status, 1, purpose.stdout + purpose.stderr);
    assert.match(purpose.stderr, /Signature status: verification failed/);
  });

  test("the format-1 fixture: certtool cannot parse it (its 2.25 arc), Trustline still verifies it", () => {
    const fixture = join(REPO_ROOT, "test", "fixtures", "firmware-v1");
    const g = gnutls("certtool", ["--p7-verify", "--inder", "--infile", join(fixture, "fw.bin.p7s"), "--load-data", join(fixture, "fw.bin"), "--load-ca-certificate", join(fixture, "root.pem")]);
    assert.equal(g.status, 1);
    assert.match(g.stdout + g.stderr, /import error: ASN1 parser: Error in DER parsing\./);
    const ok = runCli(["firmware", "verify", join(fixture, "fw.bin"), "--signature", join(fixture, "fw.bin.p7s"), "--trust", join(fixture, "root.pem"), "--no-revocation", "--min-security-version", "7"]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  });
});
