/**
 * OpenSSL as referee for what Trustline issues: chains verify with `openssl verify`, and every
 * field the profiles promise reads back from `openssl x509 -text` with exactly that value.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  createCa,
  exportCa,
  type Home,
  type IssuedCertificate,
  issueDeviceCertificate,
  issueSignerCertificate,
  type KeyAlgorithm,
  TrustlineError,
} from "../../ca/index.js";
import { POLICY_OIDS } from "../../policy/oids.js";
import { FIXED_NOW, makeHome, opensslCsr, PASSPHRASE, tempDir } from "../helpers/pki.js";
import {
  asn1parse,
  ATTIME,
  DAY_MS,
  extension,
  extensions,
  keyId,
  openssl,
  opensslDate,
  opensslOk,
  parseOpensslDate,
  signatureAlgorithms,
  x509Field,
  x509Text,
} from "./openssl.js";

const DEFAULT_URL = "http://127.0.0.1:8080";
const EXAMPLE_URL = "http://pki.example.test";

interface Pki {
  readonly dir: string;
  readonly home: Home;
  readonly dev: IssuedCertificate;
  readonly signer: IssuedCertificate;
  /** Files in `dir`: root.pem, device-ca.pem, firmware-ca.pem, dev.pem, signer.pem (+ dev.key, signer.key). */
  readonly path: (name: string) => string;
  readonly cleanup: () => void;
}

/** A home, its CAs exported, a device certificate and a signer certificate from OpenSSL CSRs. */
async function buildPki(options: { algorithm?: KeyAlgorithm; baseUrl?: string } = {}): Promise<Pki> {
  const { dir, cleanup } = tempDir("trustline-interop-");
  try {
    const home = await makeHome(dir, {
      ...(options.algorithm ? { algorithm: options.algorithm } : {}),
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    });
    writeFileSync(join(dir, "root.pem"), await exportCa(home, "root"));
    writeFileSync(join(dir, "device-ca.pem"), await exportCa(home, "device"));
    writeFileSync(join(dir, "firmware-ca.pem"), await exportCa(home, "firmware"));
    const devCsr = opensslCsr(dir, "dev", "/CN=dev-0001/O=Ignored");
    const dev = await issueDeviceCertificate(home, devCsr.csr, { batch: "B1" });
    writeFileSync(join(dir, "dev.pem"), dev.pem);
    const signerCsr = opensslCsr(dir, "signer", "/CN=someone-else/O=Not Acme");
    const signer = await issueSignerCertificate(home, signerCsr.csr, "ci-pipeline");
    writeFileSync(join(dir, "signer.pem"), signer.pem);
    return { dir, home, dev, signer, path: (name) => join(dir, name), cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

/** `openssl verify -attime T ...` run inside `dir`, so OpenSSL names the files as we do. */
function verify(dir: string, args: readonly string[]) {
  return openssl(["verify", "-attime", ATTIME, ...args], { cwd: dir });
}

/** min(notBefore + days, issuer's notAfter): the validity rule of certificate-policy.md 6.3.2. */
function expectedNotAfter(notBefore: Date, days: number, issuerNotAfter: Date | undefined): Date {
  const requested = new Date(notBefore.getTime() + days * DAY_MS);
  return issuerNotAfter && issuerNotAfter < requested ? issuerNotAfter : requested;
}

const ALGORITHMS: readonly {
  readonly algorithm: KeyAlgorithm | undefined;
  readonly label: string;
  readonly signature: string;
  readonly caKeyText: readonly string[];
}[] = [
  { algorithm: undefined, label: "p256 (default)", signature: "ecdsa-with-SHA256", caKeyText: ["Public-Key: (256 bit)", "NIST CURVE: P-256"] },
  { algorithm: "p384", label: "p384", signature: "ecdsa-with-SHA384", caKeyText: ["Public-Key: (384 bit)", "NIST CURVE: P-384"] },
  { algorithm: "rsa3072", label: "rsa3072", signature: "sha256WithRSAEncryption", caKeyText: ["Public Key Algorithm: rsaEncryption", "Public-Key: (3072 bit)"] },
];

for (const { algorithm, label, signature, caKeyText } of ALGORITHMS) {
  describe(`home initialised with ${label} CA keys`, () => {
    let pki: Pki;
    before(async () => {
      pki = await buildPki(algorithm ? { algorithm } : {});
    });
    after(() => pki?.cleanup());

    test(`RFC 5280 §6.1 path validation: openssl verify accepts device leaf -> device CA -> root for purpose sslclient (${label})`, () => {
      const r = verify(pki.dir, ["-CAfile", "root.pem", "-untrusted", "device-ca.pem", "-purpose", "sslclient", "dev.pem"]);
      assert.equal(r.stderr, "");
      assert.equal(r.stdout, "dev.pem: OK\n");
      assert.equal(r.status, 0);
    });

    test(`RFC 5280 strict profile: openssl verify -x509_strict accepts the device and signer chains (${label})`, () => {
      const dev = verify(pki.dir, ["-x509_strict", "-CAfile", "root.pem", "-untrusted", "device-ca.pem", "-purpose", "sslclient", "dev.pem"]);
      assert.deepEqual([dev.status, dev.stdout], [0, "dev.pem: OK\n"]);
      const signer = verify(pki.dir, ["-x509_strict", "-CAfile", "root.pem", "-untrusted", "firmware-ca.pem", "-purpose", "any", "signer.pem"]);
      assert.deepEqual([signer.status, signer.stdout], [0, "signer.pem: OK\n"]);
    });

    test(`RFC 5280 §4.2.1.12 extendedKeyUsage: signer (codeSigning only) verifies for purpose any, is refused for sslclient (${label})`, () => {
      const any = verify(pki.dir, ["-CAfile", "root.pem", "-untrusted", "firmware-ca.pem", "-purpose", "any", "signer.pem"]);
      assert.deepEqual([any.status, any.stdout, any.stderr], [0, "signer.pem: OK\n", ""]);
      const client = verify(pki.dir, ["-CAfile", "root.pem", "-untrusted", "firmware-ca.pem", "-purpose", "sslclient", "signer.pem"]);
      assert.equal(client.status, 2);
      assert.match(client.stderr, /^error 26 at 0 depth lookup: unsuitable certificate purpose$/m);
      assert.match(client.stderr, /^error signer\.pem: verification failed$/m);
    });

    test(`RFC 5280 §6.1: the device leaf does not verify under the firmware CA, nor the signer under the device CA (${label})`, () => {
      const dev = verify(pki.dir, ["-CAfile", "root.pem", "-untrusted", "firmware-ca.pem", "dev.pem"]);
      assert.equal(dev.status, 2);
      assert.match(dev.stderr, /^error 20 at 0 depth lookup: unable to get local issuer certificate$/m);
      const signer = verify(pki.dir, ["-CAfile", "root.pem", "-untrusted", "device-ca.pem", "signer.pem"]);
      assert.equal(signer.status, 2);
      assert.match(signer.stderr, /^error 20 at 0 depth lookup: unable to get local issuer certificate$/m);
    });

    test(`RFC 5280 §6.1.3 / §4.2.1.4 certificatePolicies: device chain satisfies an explicit deviceIdentity policy, not firmwareSigning (${label})`, () => {
      const base = ["-CAfile", "root.pem", "-untrusted", "device-ca.pem", "-explicit_policy"];
      const ok = verify(pki.dir, [...base, "-policy", POLICY_OIDS.deviceIdentity, "dev.pem"]);
      assert.deepEqual([ok.status, ok.stdout], [0, "dev.pem: OK\n"]);
      const wrong = verify(pki.dir, [...base, "-policy", POLICY_OIDS.firmwareSigning, "dev.pem"]);
      assert.equal(wrong.status, 2);
      assert.match(wrong.stderr, /^error 43 at 0 depth lookup: no explicit policy$/m);
      const signer = verify(pki.dir, ["-CAfile", "root.pem", "-untrusted", "firmware-ca.pem", "-explicit_policy", "-policy", POLICY_OIDS.firmwareSigning, "signer.pem"]);
      assert.deepEqual([signer.status, signer.stdout], [0, "signer.pem: OK\n"]);
    });

    test(`RFC 5280 §4.1.1.2 / §4.1.2.3 signatureAlgorithm: ${signature} on every certificate (${label})`, () => {
      for (const name of ["root.pem", "device-ca.pem", "firmware-ca.pem", "dev.pem", "signer.pem"]) {
        assert.deepEqual(signatureAlgorithms(x509Text(pki.path(name))), [signature, signature], name);
      }
    });

    test(`RFC 5280 §4.1.2.7 subjectPublicKeyInfo: the CAs hold ${label} keys; leaves keep the CSR's P-256 key (${label})`, () => {
      for (const name of ["root.pem", "device-ca.pem", "firmware-ca.pem"]) {
        const text = x509Text(pki.path(name));
        for (const line of caKeyText) assert.ok(text.includes(line), `${name} lacks "${line}"`);
      }
      for (const name of ["dev.pem", "signer.pem"]) {
        const text = x509Text(pki.path(name));
        assert.ok(text.includes("Public-Key: (256 bit)") && text.includes("NIST CURVE: P-256"), name);
        const fromCert = opensslOk(["x509", "-in", pki.path(name), "-noout", "-pubkey"]);
        const fromKey = opensslOk(["pkey", "-in", pki.path(name.replace(".pem", ".key")), "-pubout"]);
        assert.equal(fromCert, fromKey, `${name} carries the CSR's public key`);
      }
    });

    test(`RFC 5280 §4.1.2.1 version: every certificate is v3 (${label})`, () => {
      for (const name of ["root.pem", "device-ca.pem", "firmware-ca.pem", "dev.pem", "signer.pem"]) {
        assert.match(x509Text(pki.path(name)), /^ {8}Version: 3 \(0x2\)$/m, name);
      }
    });

    test(`RFC 5280 §4.1.2.4 / §6.1 root: self-signed (issuer = subject, self-signature verifies) (${label})`, () => {
      const root = pki.path("root.pem");
      assert.equal(x509Field(root, "-subject"), "O = Acme Devices, CN = Acme Devices root CA");
      assert.equal(x509Field(root, "-issuer"), "O = Acme Devices, CN = Acme Devices root CA");
      const r = verify(pki.dir, ["-check_ss_sig", "-x509_strict", "-CAfile", "root.pem", "root.pem"]);
      assert.deepEqual([r.status, r.stdout], [0, "root.pem: OK\n"]);
      const text = x509Text(root);
      assert.equal(keyId(text, "X509v3 Authority Key Identifier"), keyId(text, "X509v3 Subject Key Identifier"));
    });

    test(`RFC 5280 §4.2.1.9 basicConstraints / §4.2.1.3 keyUsage: root is CA:TRUE pathlen:1 critical, keyCertSign+cRLSign critical (${label})`, () => {
      const text = x509Text(pki.path("root.pem"));
      assert.deepEqual(extension(text, "X509v3 Basic Constraints"), { critical: true, lines: ["CA:TRUE, pathlen:1"] });
      assert.deepEqual(extension(text, "X509v3 Key Usage"), { critical: true, lines: ["Certificate Sign, CRL Sign"] });
    });

    test(`RFC 5280 §4.2.1.2 / §4.2.1.13 / §4.2.2.1: root has a SKI and no CRL DP, AIA, certificatePolicies or EKU (${label})`, () => {
      const text = x509Text(pki.path("root.pem"));
      const sha1 = opensslOk(["x509", "-in", pki.path("root.pem"), "-noout", "-ext", "subjectKeyIdentifier"]);
      assert.match(sha1, /^ {4}[0-9A-F]{2}(:[0-9A-F]{2}){19}$/m, "a 160-bit key identifier");
      assert.deepEqual(
        [...extensions(text).keys()],
        ["X509v3 Basic Constraints", "X509v3 Key Usage", "X509v3 Subject Key Identifier", "X509v3 Authority Key Identifier"],
      );
    });

    test(`RFC 5280 §4.1.2.5 validity: root notBefore = FIXED_NOW, notAfter = +7305 days (${label})`, () => {
      const root = pki.path("root.pem");
      assert.equal(x509Field(root, "-startdate"), opensslDate(FIXED_NOW));
      assert.equal(x509Field(root, "-enddate"), opensslDate(new Date(FIXED_NOW.getTime() + 7305 * DAY_MS)));
    });

    test(`RFC 5280 §4.2.1.9 basicConstraints / §4.2.1.3 keyUsage: device CA is CA:TRUE pathlen:0 critical, digitalSignature+keyCertSign+cRLSign critical (${label})`, () => {
      for (const name of ["device-ca.pem", "firmware-ca.pem"]) {
        const text = x509Text(pki.path(name));
        assert.deepEqual(extension(text, "X509v3 Basic Constraints"), { critical: true, lines: ["CA:TRUE, pathlen:0"] }, name);
        assert.deepEqual(extension(text, "X509v3 Key Usage"), { critical: true, lines: ["Digital Signature, Certificate Sign, CRL Sign"] }, name);
        assert.equal(extensions(text).has("X509v3 Extended Key Usage"), false, `${name} has no EKU`);
      }
    });

    test(`RFC 5280 §4.1.2.6 subject / §4.2.1.1 AKI: issuing CAs are named "<org> <name> CA" and point at the root's SKI (${label})`, () => {
      const rootSki = keyId(x509Text(pki.path("root.pem")), "X509v3 Subject Key Identifier");
      for (const [file, name] of [["device-ca.pem", "device"], ["firmware-ca.pem", "firmware"]] as const) {
        assert.equal(x509Field(pki.path(file), "-subject"), `O = Acme Devices, CN = Acme Devices ${name} CA`);
        assert.equal(x509Field(pki.path(file), "-issuer"), "O = Acme Devices, CN = Acme Devices root CA");
        const text = x509Text(pki.path(file));
        assert.equal(keyId(text, "X509v3 Authority Key Identifier"), rootSki, file);
        assert.notEqual(keyId(text, "X509v3 Subject Key Identifier"), rootSki, file);
      }
    });

    test(`RFC 5280 §4.2.1.4 certificatePolicies: device CA carries deviceIdentity and dpsVerification; firmware CA firmwareSigning (${label})`, () => {
      assert.deepEqual(extension(x509Text(pki.path("device-ca.pem")), "X509v3 Certificate Policies"), {
        critical: false,
        lines: [`Policy: ${POLICY_OIDS.deviceIdentity}`, `Policy: ${POLICY_OIDS.dpsVerification}`],
      });
      assert.deepEqual(extension(x509Text(pki.path("firmware-ca.pem")), "X509v3 Certificate Policies"), {
        critical: false,
        lines: [`Policy: ${POLICY_OIDS.firmwareSigning}`],
      });
    });

    test(`RFC 5280 §4.2.1.13 CRL DP / §4.2.2.1 AIA: device CA points at the root's CRL, OCSP and caIssuers (${label})`, () => {
      const text = x509Text(pki.path("device-ca.pem"));
      assert.deepEqual(extension(text, "X509v3 CRL Distribution Points"), { critical: false, lines: ["Full Name:", `URI:${DEFAULT_URL}/crl/root.crl`] });
      assert.deepEqual(extension(text, "Authority Information Access"), {
        critical: false,
        lines: [`OCSP - URI:${DEFAULT_URL}/ocsp/root`, `CA Issuers - URI:${DEFAULT_URL}/ca/root.cer`],
      });
      assert.equal(opensslOk(["x509", "-in", pki.path("device-ca.pem"), "-noout", "-ocsp_uri"]), `${DEFAULT_URL}/ocsp/root\n`);
    });

    test(`RFC 5280 §4.1.2.5 validity: device CA notBefore = FIXED_NOW, notAfter = min(+3653 days, root notAfter) (${label})`, () => {
      const rootEnd = parseOpensslDate(x509Field(pki.path("root.pem"), "-enddate"));
      for (const name of ["device-ca.pem", "firmware-ca.pem"]) {
        assert.equal(x509Field(pki.path(name), "-startdate"), opensslDate(FIXED_NOW), name);
        assert.equal(x509Field(pki.path(name), "-enddate"), opensslDate(expectedNotAfter(FIXED_NOW, 3653, rootEnd)), name);
      }
    });

    test(`RFC 5280 §4.1.2.6 subject: device leaf is exactly "CN = dev-0001" (the CSR's O is ignored), issued by the device CA (${label})`, () => {
      const dev = pki.path("dev.pem");
      assert.equal(x509Field(dev, "-subject"), "CN = dev-0001");
      assert.equal(opensslOk(["x509", "-in", dev, "-noout", "-subject", "-nameopt", "RFC2253"]), "subject=CN=dev-0001\n");
      assert.equal(x509Field(dev, "-issuer"), "O = Acme Devices, CN = Acme Devices device CA");
      assert.equal(pki.dev.record.subject.includes("Ignored"), false);
    });

    test(`RFC 5280 §4.2.1.9 / §4.2.1.3 / §4.2.1.12 / §4.2.1.6: device leaf is CA:FALSE critical, digitalSignature critical, EKU clientAuth only, SAN the device URN (${label})`, () => {
      const text = x509Text(pki.path("dev.pem"));
      assert.deepEqual(extension(text, "X509v3 Basic Constraints"), { critical: true, lines: ["CA:FALSE"] });
      assert.deepEqual(extension(text, "X509v3 Key Usage"), { critical: true, lines: ["Digital Signature"] });
      assert.deepEqual(extension(text, "X509v3 Extended Key Usage"), { critical: false, lines: ["TLS Web Client Authentication"] });
      assert.deepEqual(extension(text, "X509v3 Subject Alternative Name"), { critical: false, lines: ["URI:urn:acme-devices:device:dev-0001"] });
      assert.deepEqual(
        [...extensions(text).keys()],
        [
          "X509v3 Basic Constraints",
          "X509v3 Key Usage",
          "X509v3 Extended Key Usage",
          "X509v3 Subject Key Identifier",
          "X509v3 Subject Alternative Name",
          "X509v3 Authority Key Identifier",
          "X509v3 Certificate Policies",
          "X509v3 CRL Distribution Points",
          "Authority Information Access",
        ],
      );
    });

    test(`RFC 5280 §4.2.1.4 / §4.2.1.13 / §4.2.2.1: device leaf has policy deviceIdentity and the device CA's CRL, OCSP and caIssuers URLs (${label})`, () => {
      const text = x509Text(pki.path("dev.pem"));
      assert.deepEqual(extension(text, "X509v3 Certificate Policies"), { critical: false, lines: [`Policy: ${POLICY_OIDS.deviceIdentity}`] });
      assert.deepEqual(extension(text, "X509v3 CRL Distribution Points"), { critical: false, lines: ["Full Name:", `URI:${DEFAULT_URL}/crl/device.crl`] });
      assert.deepEqual(extension(text, "Authority Information Access"), {
        critical: false,
        lines: [`OCSP - URI:${DEFAULT_URL}/ocsp/device`, `CA Issuers - URI:${DEFAULT_URL}/ca/device.cer`],
      });
    });

    test(`RFC 5280 §4.2.1.1 authorityKeyIdentifier: device leaf's AKI equals the device CA's SKI (${label})`, () => {
      const caSki = keyId(x509Text(pki.path("device-ca.pem")), "X509v3 Subject Key Identifier");
      const text = x509Text(pki.path("dev.pem"));
      assert.equal(keyId(text, "X509v3 Authority Key Identifier"), caSki);
      assert.notEqual(keyId(text, "X509v3 Subject Key Identifier"), caSki);
    });

    test(`RFC 5280 §4.1.2.2 serialNumber: device leaf serial is exactly 20 octets, positive, and matches the inventory record (${label})`, () => {
      const dev = pki.path("dev.pem");
      const lines = asn1parse(dev);
      // Certificate > TBSCertificate > [0] version, then the serial INTEGER at depth 2.
      const serialLine = lines.filter((l) => l.depth === 2)[1]!;
      assert.equal(serialLine.type, "INTEGER");
      assert.equal(serialLine.length, 20);
      assert.match(serialLine.value, /^[0-7][0-9A-F]{39}$/, "20 bytes, top bit clear");
      assert.equal(x509Field(dev, "-serial"), serialLine.value);
      assert.equal(pki.dev.record.serial, serialLine.value.toLowerCase());
      assert.notEqual(x509Field(pki.path("signer.pem"), "-serial"), serialLine.value);
    });

    test(`RFC 5280 §4.1.2.5 validity: device leaf notBefore = FIXED_NOW, notAfter = min(+3653 days, device CA notAfter) (${label})`, () => {
      const caEnd = parseOpensslDate(x509Field(pki.path("device-ca.pem"), "-enddate"));
      const dev = pki.path("dev.pem");
      const expected = expectedNotAfter(FIXED_NOW, 3653, caEnd);
      assert.equal(x509Field(dev, "-startdate"), opensslDate(FIXED_NOW));
      assert.equal(x509Field(dev, "-enddate"), opensslDate(expected));
      assert.equal(pki.dev.record.notAfter, expected.toISOString());
      // Still valid at its last second; expired one second later (RFC 5280 §4.1.2.5: inclusive).
      const atEnd = openssl(["verify", "-attime", String(expected.getTime() / 1000 - 1), "-CAfile", "root.pem", "-untrusted", "device-ca.pem", "dev.pem"], { cwd: pki.dir });
      assert.deepEqual([atEnd.status, atEnd.stdout], [0, "dev.pem: OK\n"]);
      const afterEnd = openssl(["verify", "-attime", String(expected.getTime() / 1000 + 1), "-CAfile", "root.pem", "-untrusted", "device-ca.pem", "dev.pem"], { cwd: pki.dir });
      assert.equal(afterEnd.status, 2);
      assert.match(afterEnd.stderr, /^error 10 at 0 depth lookup: certificate has expired$/m);
      const beforeStart = openssl(["verify", "-attime", String(FIXED_NOW.getTime() / 1000 - 1), "-CAfile", "root.pem", "-untrusted", "device-ca.pem", "dev.pem"], { cwd: pki.dir });
      assert.equal(beforeStart.status, 2);
      assert.match(beforeStart.stderr, /^error 9 at \d depth lookup: certificate is not yet valid$/m);
    });

    test(`RFC 5280 §4.1.2.6 / §4.2.1.12: signer leaf is "O = Acme Devices, CN = ci-pipeline", EKU codeSigning only, policy firmwareSigning (${label})`, () => {
      const signer = pki.path("signer.pem");
      assert.equal(x509Field(signer, "-subject"), "O = Acme Devices, CN = ci-pipeline");
      assert.equal(x509Field(signer, "-issuer"), "O = Acme Devices, CN = Acme Devices firmware CA");
      const text = x509Text(signer);
      assert.deepEqual(extension(text, "X509v3 Extended Key Usage"), { critical: false, lines: ["Code Signing"] });
      assert.deepEqual(extension(text, "X509v3 Basic Constraints"), { critical: true, lines: ["CA:FALSE"] });
      assert.deepEqual(extension(text, "X509v3 Key Usage"), { critical: true, lines: ["Digital Signature"] });
      assert.deepEqual(extension(text, "X509v3 Certificate Policies"), { critical: false, lines: [`Policy: ${POLICY_OIDS.firmwareSigning}`] });
      assert.deepEqual(extension(text, "X509v3 CRL Distribution Points"), { critical: false, lines: ["Full Name:", `URI:${DEFAULT_URL}/crl/firmware.crl`] });
      const caSki = keyId(x509Text(pki.path("firmware-ca.pem")), "X509v3 Subject Key Identifier");
      assert.equal(keyId(text, "X509v3 Authority Key Identifier"), caSki);
      const caEnd = parseOpensslDate(x509Field(pki.path("firmware-ca.pem"), "-enddate"));
      assert.equal(x509Field(signer, "-startdate"), opensslDate(FIXED_NOW));
      assert.equal(x509Field(signer, "-enddate"), opensslDate(expectedNotAfter(FIXED_NOW, 730, caEnd)));
    });
  });
}

describe("--base-url http://pki.example.test", () => {
  let pki: Pki;
  before(async () => {
    pki = await buildPki({ baseUrl: EXAMPLE_URL });
  });
  after(() => pki?.cleanup());

  test("RFC 5280 §4.2.1.13 / §4.2.2.1: the base URL replaces the default in every CRL DP and AIA", () => {
    const ca = x509Text(pki.path("device-ca.pem"));
    assert.deepEqual(extension(ca, "X509v3 CRL Distribution Points").lines, ["Full Name:", `URI:${EXAMPLE_URL}/crl/root.crl`]);
    assert.deepEqual(extension(ca, "Authority Information Access").lines, [`OCSP - URI:${EXAMPLE_URL}/ocsp/root`, `CA Issuers - URI:${EXAMPLE_URL}/ca/root.cer`]);
    const dev = x509Text(pki.path("dev.pem"));
    assert.deepEqual(extension(dev, "X509v3 CRL Distribution Points").lines, ["Full Name:", `URI:${EXAMPLE_URL}/crl/device.crl`]);
    assert.deepEqual(extension(dev, "Authority Information Access").lines, [`OCSP - URI:${EXAMPLE_URL}/ocsp/device`, `CA Issuers - URI:${EXAMPLE_URL}/ca/device.cer`]);
    const signer = x509Text(pki.path("signer.pem"));
    assert.deepEqual(extension(signer, "Authority Information Access").lines, [`OCSP - URI:${EXAMPLE_URL}/ocsp/firmware`, `CA Issuers - URI:${EXAMPLE_URL}/ca/firmware.cer`]);
    for (const name of ["root.pem", "device-ca.pem", "firmware-ca.pem", "dev.pem", "signer.pem"]) {
      assert.equal(x509Text(pki.path(name)).includes("127.0.0.1"), false, `${name} still names the default URL`);
    }
  });

  test("RFC 5280 §6.1: the chain under a custom base URL verifies with openssl", () => {
    const r = verify(pki.dir, ["-CAfile", "root.pem", "-untrusted", "device-ca.pem", "-purpose", "sslclient", "dev.pem"]);
    assert.deepEqual([r.status, r.stdout], [0, "dev.pem: OK\n"]);
  });
});

describe("p256 home: device CSR keys, validity limits, pathLen", () => {
  let pki: Pki;
  before(async () => {
    pki = await buildPki();
  });
  after(() => pki?.cleanup());

  test("CP 6.1.5 / RFC 5280 §4.1.2.7: an OpenSSL RSA-2048 device CSR is accepted and the certificate verifies", async () => {
    const { csr, keyPath } = opensslCsr(pki.dir, "rsa2048", "/CN=dev-rsa2048", ["-newkey", "rsa:2048"]);
    const issued = await issueDeviceCertificate(pki.home, csr);
    const certPath = pki.path("rsa2048.pem");
    writeFileSync(certPath, issued.pem);
    const text = x509Text(certPath);
    assert.match(text, /^ {12}Public Key Algorithm: rsaEncryption$/m);
    assert.match(text, /^ {16}Public-Key: \(2048 bit\)$/m);
    assert.deepEqual(signatureAlgorithms(text), ["ecdsa-with-SHA256", "ecdsa-with-SHA256"]);
    assert.equal(x509Field(certPath, "-subject"), "CN = dev-rsa2048");
    assert.equal(opensslOk(["x509", "-in", certPath, "-noout", "-pubkey"]), opensslOk(["pkey", "-in", keyPath, "-pubout"]));
    const r = verify(pki.dir, ["-CAfile", "root.pem", "-untrusted", "device-ca.pem", "-purpose", "sslclient", "rsa2048.pem"]);
    assert.deepEqual([r.status, r.stdout], [0, "rsa2048.pem: OK\n"]);
  });

  test("CP 6.1.5: an OpenSSL RSA-1024 device CSR is refused with POLICY_DENIED / KEY_NOT_ALLOWED", async () => {
    const { csr } = opensslCsr(pki.dir, "rsa1024", "/CN=dev-rsa1024", ["-newkey", "rsa:1024"]);
    await assert.rejects(issueDeviceCertificate(pki.home, csr, { batch: "B1" }), (e: unknown) => {
      assert.ok(e instanceof TrustlineError, `expected a TrustlineError, got ${String(e)}`);
      assert.equal(e.code, "POLICY_DENIED");
      const violations = e.details["violations"] as { code: string; message: string }[];
      assert.ok(Array.isArray(violations), "details.violations is an array");
      assert.deepEqual(
        violations.map((v) => v.code),
        ["KEY_NOT_ALLOWED"],
      );
      assert.match(violations[0]!.message, /RSA-1024/);
      assert.equal(e.details["profile"], "device");
      return true;
    });
  });

  test("CP 6.1.5 / RFC 5480: an OpenSSL P-384 device CSR is accepted; the P-256 CA signs it with ecdsa-with-SHA256", async () => {
    const { csr, keyPath } = opensslCsr(pki.dir, "p384", "/CN=dev-p384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]);
    const issued = await issueDeviceCertificate(pki.home, csr);
    const certPath = pki.path("p384.pem");
    writeFileSync(certPath, issued.pem);
    const text = x509Text(certPath);
    assert.match(text, /^ {16}Public-Key: \(384 bit\)$/m);
    assert.match(text, /^ {16}NIST CURVE: P-384$/m);
    assert.deepEqual(signatureAlgorithms(text), ["ecdsa-with-SHA256", "ecdsa-with-SHA256"]);
    assert.equal(opensslOk(["x509", "-in", certPath, "-noout", "-pubkey"]), opensslOk(["pkey", "-in", keyPath, "-pubout"]));
    const r = verify(pki.dir, ["-CAfile", "root.pem", "-untrusted", "device-ca.pem", "-purpose", "sslclient", "p384.pem"]);
    assert.deepEqual([r.status, r.stdout], [0, "p384.pem: OK\n"]);
  });

  test("RFC 5280 §4.1.2.5 / CP 6.3.2: a requested validity past the device CA's end is clamped to the CA's notAfter", async () => {
    const { csr } = opensslCsr(pki.dir, "long", "/CN=dev-long");
    const issued = await issueDeviceCertificate(pki.home, csr, { validityDays: 5000 });
    writeFileSync(pki.path("long.pem"), issued.pem);
    const caEnd = x509Field(pki.path("device-ca.pem"), "-enddate");
    assert.equal(caEnd, opensslDate(new Date(FIXED_NOW.getTime() + 3653 * DAY_MS)));
    assert.equal(x509Field(pki.path("long.pem"), "-startdate"), opensslDate(FIXED_NOW));
    assert.equal(x509Field(pki.path("long.pem"), "-enddate"), caEnd);
    const shortCsr = opensslCsr(pki.dir, "short", "/CN=dev-short");
    const short = await issueDeviceCertificate(pki.home, shortCsr.csr, { validityDays: 30 });
    writeFileSync(pki.path("short.pem"), short.pem);
    assert.equal(x509Field(pki.path("short.pem"), "-enddate"), opensslDate(new Date(FIXED_NOW.getTime() + 30 * DAY_MS)));
    await assert.rejects(issueDeviceCertificate(pki.home, shortCsr.csr, { validityDays: 7306 }), (e: unknown) => {
      assert.ok(e instanceof TrustlineError);
      assert.equal(e.code, "POLICY_DENIED");
      assert.deepEqual(
        (e.details["violations"] as { code: string }[]).map((v) => v.code),
        ["VALIDITY_INVALID"],
      );
      return true;
    });
  });

  test("RFC 5280 §4.1.2.5: validity dates through 2049 are UTCTime, from 2050 GeneralizedTime (root with 9132 days)", async () => {
    await createCa(pki.home, { name: "root-2051", profile: "root-ca", validityDays: 9132 });
    writeFileSync(pki.path("root-2051.pem"), await exportCa(pki.home, "root-2051"));
    const times = (file: string) =>
      asn1parse(pki.path(file))
        .filter((l) => l.depth === 3 && (l.type === "UTCTIME" || l.type === "GENERALIZEDTIME"))
        .map((l) => [l.type, l.value]);
    assert.deepEqual(times("root-2051.pem"), [
      ["UTCTIME", "260301120000Z"],
      ["GENERALIZEDTIME", "20510302120000Z"],
    ]);
    assert.deepEqual(times("root.pem"), [
      ["UTCTIME", "260301120000Z"],
      ["UTCTIME", "460301120000Z"],
    ]);
    assert.equal(x509Field(pki.path("root-2051.pem"), "-enddate"), "Mar  2 12:00:00 2051 GMT");
    const r = verify(pki.dir, ["-x509_strict", "-check_ss_sig", "-CAfile", "root-2051.pem", "root-2051.pem"]);
    assert.deepEqual([r.status, r.stdout], [0, "root-2051.pem: OK\n"]);
  });

  test("RFC 5280 §4.1.2.4 / §7.1: issuer names are byte-identical to the CA subject (PrintableString for ASCII names)", () => {
    const names = (file: string) =>
      asn1parse(pki.path(file))
        .filter((l) => l.depth === 5 && /STRING$/.test(l.type))
        .map((l) => [l.type, l.value]);
    assert.deepEqual(names("dev.pem"), [
      ["PRINTABLESTRING", "Acme Devices"],
      ["PRINTABLESTRING", "Acme Devices device CA"],
      ["PRINTABLESTRING", "dev-0001"],
    ]);
    const caSubject = opensslOk(["x509", "-in", pki.path("device-ca.pem"), "-noout", "-subject", "-nameopt", "RFC2253"]).replace(/^subject=/, "");
    const leafIssuer = opensslOk(["x509", "-in", pki.path("dev.pem"), "-noout", "-issuer", "-nameopt", "RFC2253"]).replace(/^issuer=/, "");
    assert.equal(leafIssuer, caSubject);
    assert.equal(leafIssuer, "CN=Acme Devices device CA,O=Acme Devices\n");
  });

  test("RFC 5280 §4.2.1.9 pathLenConstraint: OpenSSL refuses a sub-CA forged under the device CA (error 25 at the device CA and the root)", () => {
    // Open the device CA's key with OpenSSL itself and have it sign an intermediate CA + a leaf.
    const passFile = pki.path("pass.txt");
    writeFileSync(passFile, `${PASSPHRASE}\n`);
    const caKey = pki.path("device-ca.key");
    opensslOk(["pkey", "-in", join(pki.home.dir, "keys", "device.key.pem"), "-passin", `file:${passFile}`, "-out", caKey]);
    const ext = pki.path("ext.cnf");
    writeFileSync(ext, "[subca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n[leaf]\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n");
    opensslOk(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", pki.path("sub.key"), "-subj", "/CN=forged sub CA", "-out", pki.path("sub.csr")]);
    opensslOk(["x509", "-req", "-in", pki.path("sub.csr"), "-CA", pki.path("device-ca.pem"), "-CAkey", caKey, "-set_serial", "1", "-days", "30", "-extfile", ext, "-extensions", "subca", "-out", pki.path("sub.pem")]);
    opensslOk(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", pki.path("leaf.key"), "-subj", "/CN=dev-forged", "-out", pki.path("leaf.csr")]);
    opensslOk(["x509", "-req", "-in", pki.path("leaf.csr"), "-CA", pki.path("sub.pem"), "-CAkey", pki.path("sub.key"), "-set_serial", "2", "-days", "30", "-extfile", ext, "-extensions", "leaf", "-out", pki.path("leaf.pem")]);
    writeFileSync(pki.path("untrusted.pem"), opensslOk(["x509", "-in", pki.path("device-ca.pem")]) + opensslOk(["x509", "-in", pki.path("sub.pem")]));
    // -attime: the forged certificates start "now" (real time), so check at their own notBefore + 1 day.
    const start = parseOpensslDate(x509Field(pki.path("leaf.pem"), "-startdate"));
    const r = openssl(["verify", "-attime", String(start.getTime() / 1000 + 86_400), "-CAfile", "root.pem", "-untrusted", "untrusted.pem", "leaf.pem"], { cwd: pki.dir });
    assert.equal(r.status, 2);
    // Depth 2 is the device CA (pathlen:0, one CA below it); depth 3 the root (pathlen:1, two below it).
    assert.match(r.stderr, /^O = Acme Devices, CN = Acme Devices device CA\nerror 25 at 2 depth lookup: path length constraint exceeded$/m);
    assert.match(r.stderr, /^O = Acme Devices, CN = Acme Devices root CA\nerror 25 at 3 depth lookup: path length constraint exceeded$/m);
    assert.match(r.stderr, /^error leaf\.pem: verification failed$/m);
  });
});

describe("a non-ASCII organisation (Zürich Gerätebau AG)", () => {
  let dir: string;
  let cleanup: () => void;
  let home: Home;
  before(async () => {
    ({ dir, cleanup } = tempDir("trustline-interop-utf8-"));
    home = await makeHome(dir, { organization: "Zürich Gerätebau AG" });
  });
  after(() => cleanup?.());

  test("RFC 5280 §4.1.2.6 DirectoryString: non-ASCII names are UTF8String and read back exactly; the chain verifies", async () => {
    writeFileSync(join(dir, "root.pem"), await exportCa(home, "root"));
    writeFileSync(join(dir, "firmware-ca.pem"), await exportCa(home, "firmware"));
    const { csr } = opensslCsr(dir, "signer", "/CN=ignored");
    const signer = await issueSignerCertificate(home, csr, "José Müller");
    writeFileSync(join(dir, "signer.pem"), signer.pem);
    const opts = ["-noout", "-nameopt", "utf8,sep_comma_plus_space"];
    assert.equal(opensslOk(["x509", "-in", join(dir, "signer.pem"), ...opts, "-subject"]), "subject=O=Zürich Gerätebau AG, CN=José Müller\n");
    assert.equal(opensslOk(["x509", "-in", join(dir, "signer.pem"), ...opts, "-issuer"]), "issuer=O=Zürich Gerätebau AG, CN=Zürich Gerätebau AG firmware CA\n");
    assert.deepEqual(
      asn1parse(join(dir, "signer.pem"))
        .filter((l) => l.depth === 5 && /STRING$/.test(l.type))
        .map((l) => l.type),
      ["UTF8STRING", "UTF8STRING", "UTF8STRING", "UTF8STRING"],
    );
    const r = verify(dir, ["-x509_strict", "-CAfile", "root.pem", "-untrusted", "firmware-ca.pem", "-purpose", "any", "signer.pem"]);
    assert.deepEqual([r.status, r.stdout], [0, "signer.pem: OK\n"]);
  });
});
