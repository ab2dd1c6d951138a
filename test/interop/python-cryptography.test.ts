/**
 * Python `cryptography` (43+) as a Web-PKI-style referee: its client verifier (PolicyBuilder
 * ... build_client_verifier, RFC 5280 path validation with CA/B-style profile checks) accepts a
 * device certificate that carries the subjectAltName (RFC 5280 §4.2.1.6) and reports the device
 * URI as its subject; it refuses one without (a home made with --device-san none) and a firmware
 * signer (no clientAuth). The time is the fixed clock's, given to the verifier.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createCsr, exportCa, generateDeviceCertificate, type Home, issueSignerCertificate } from "../../ca/index.js";
import { ecKey, FIXED_NOW, makeHome, tempDir } from "../helpers/pki.js";

const VERIFY = `
import sys, datetime
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store
load = lambda p: x509.load_pem_x509_certificates(open(p, "rb").read())
root, chain = load(sys.argv[1])[0], load(sys.argv[2])
verifier = PolicyBuilder().store(Store([root])).time(datetime.datetime.fromisoformat(sys.argv[3])).build_client_verifier()
try:
    verified = verifier.verify(chain[0], chain[1:])
    print("OK " + " ".join(str(getattr(n, "value", n)) for n in (verified.subjects or [])))
except Exception as e:
    print("REFUSED " + str(e).split(" (encountered")[0])
`;

/** false, or why the test skips: python3 or its cryptography (with x509.verification) is missing. */
const PYTHON_MISSING: false | string = (() => {
  const r = spawnSync("python3", ["-c", "import cryptography.x509.verification, cryptography; print(cryptography.__version__)"], { encoding: "utf8" });
  if (r.error) return "python3 is not installed";
  if (r.status !== 0) return "Python's cryptography (43 or later, with x509.verification) is not installed";
  return false;
})();

describe("Python cryptography's client verifier", { skip: PYTHON_MISSING, timeout: 60_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  const path = (name: string) => join(t.dir, name);
  const verify = (root: string, chain: string) => {
    const r = spawnSync("python3", [path("verify.py"), path(root), path(chain), new Date(FIXED_NOW.getTime() + 3_600_000).toISOString()], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };

  before(async () => {
    t = tempDir("trustline-pyca-");
    writeFileSync(path("verify.py"), VERIFY);
    const write = async (home: Home, prefix: string) => {
      writeFileSync(path(`${prefix}root.pem`), await exportCa(home, "root"));
      const device = await generateDeviceCertificate(home, "dev-0001");
      writeFileSync(path(`${prefix}device-chain.pem`), device.pem + device.chain.join(""));
      const signer = await issueSignerCertificate(home, createCsr(ecKey().privateKey, "x"), "ci-pipeline");
      writeFileSync(path(`${prefix}signer-chain.pem`), signer.pem + signer.chain.join(""));
    };
    await write(await makeHome(t.dir), "");
    await write(await makeHome(join(t.dir, "nosan"), { deviceUriTemplate: null }), "nosan-");
  });
  after(() => t?.cleanup());

  test("accepts a device certificate with the subjectAltName, naming the device by its URN", () => {
    assert.equal(verify("root.pem", "device-chain.pem"), "OK urn:acme-devices:device:dev-0001");
  });

  test("refusing case: a device certificate without subjectAltName", () => {
    assert.equal(verify("nosan-root.pem", "nosan-device-chain.pem"), "REFUSED validation failed: invalid extension: 2.5.29.17: Certificate is missing required extension");
  });

  test("refusing case: a firmware signer is not a TLS client", () => {
    assert.equal(verify("root.pem", "signer-chain.pem"), "REFUSED validation failed: required EKU not found");
  });
});
