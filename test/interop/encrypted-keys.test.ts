/**
 * The file key backend's encrypted PKCS#8 (RFC 5958 + PBES2/scrypt, RFC 8018 / RFC 7914 §7) read by
 * OpenSSL, and OpenSSL's own scrypt-encrypted PKCS#8 read by our parser: a CA key can be backed up,
 * recovered or moved to an HSM with standard tools.
 */
import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { exportCa, type Home, pemBlocks } from "../../ca/index.js";
import { decryptPrivateKey, deriveKey, parseEncryptedPrivateKey, WrongPassphraseError } from "../../ca/keys/encrypted-pkcs8.js";
import { makeHome, PASSPHRASE, tempDir } from "../helpers/pki.js";
import { asn1parse, openssl, opensslOk } from "./openssl.js";

const CA_KEYS = ["root", "device", "firmware"] as const;

describe("encrypted CA key files, OpenSSL as referee", () => {
  let dir: string;
  let cleanup: () => void;
  let home: Home;
  let passFile: string;
  let wrongPassFile: string;

  before(async () => {
    ({ dir, cleanup } = tempDir("trustline-interop-keys-"));
    home = await makeHome(dir);
    for (const name of CA_KEYS) writeFileSync(join(dir, `${name}-ca.pem`), await exportCa(home, name));
    passFile = join(dir, "pass.txt");
    writeFileSync(passFile, `${PASSPHRASE}\n`);
    wrongPassFile = join(dir, "wrong.txt");
    writeFileSync(wrongPassFile, `${PASSPHRASE}!\n`);
  });
  after(() => cleanup?.());

  const keyFile = (name: string) => join(home.dir, "keys", `${name}.key.pem`);

  test("RFC 7468 §11: every <home>/keys/*.key.pem is a single ENCRYPTED PRIVATE KEY block", () => {
    const files = readdirSync(join(home.dir, "keys")).filter((f) => f.endsWith(".key.pem")).sort();
    assert.deepEqual(files, ["audit.key.pem", "device.key.pem", "firmware.key.pem", "root.key.pem"]);
    for (const file of files) {
      const text = readFileSync(join(home.dir, "keys", file), "utf8");
      assert.deepEqual(
        pemBlocks(text).map((b) => b.label),
        ["ENCRYPTED PRIVATE KEY"],
        file,
      );
      assert.match(text, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END ENCRYPTED PRIVATE KEY-----\n$/, file);
      assert.equal(text.includes("BEGIN PRIVATE KEY"), false, file);
    }
  });

  test("RFC 5958 / RFC 8018: openssl pkey opens each CA key with the passphrase; its public key equals the CA certificate's", () => {
    for (const name of CA_KEYS) {
      const fromKey = opensslOk(["pkey", "-in", keyFile(name), "-passin", `file:${passFile}`, "-pubout"]);
      const fromCert = opensslOk(["x509", "-in", join(dir, `${name}-ca.pem`), "-noout", "-pubkey"]);
      assert.match(fromKey, /^-----BEGIN PUBLIC KEY-----\n/);
      assert.equal(fromKey, fromCert, name);
    }
    // The three CAs have three distinct keys.
    const publicKeys = CA_KEYS.map((name) => opensslOk(["x509", "-in", join(dir, `${name}-ca.pem`), "-noout", "-pubkey"]));
    assert.equal(new Set(publicKeys).size, 3);
  });

  test("RFC 8018 §6.2 PBES2 + RFC 7914 §7 id-scrypt (1.3.6.1.4.1.11591.4.11) + aes-256-cbc, as openssl asn1parse reads it", () => {
    // OpenSSL prints id-scrypt by its short name; prove that name is that OID.
    assert.equal(opensslOk(["asn1parse", "-genstr", "OID:1.3.6.1.4.1.11591.4.11"]).trim(), "0:d=0  hl=2 l=   9 prim: OBJECT            :scrypt");
    assert.equal(opensslOk(["asn1parse", "-genstr", "OID:1.2.840.113549.1.5.13"]).trim(), "0:d=0  hl=2 l=   9 prim: OBJECT            :PBES2");
    assert.equal(opensslOk(["asn1parse", "-genstr", "OID:2.16.840.1.101.3.4.1.42"]).trim(), "0:d=0  hl=2 l=   9 prim: OBJECT            :aes-256-cbc");
    for (const name of CA_KEYS) {
      const lines = asn1parse(keyFile(name));
      const objects = lines.filter((l) => l.type === "OBJECT").map((l) => l.value);
      assert.deepEqual(objects, ["PBES2", "scrypt", "aes-256-cbc"], name);
      // scrypt-params: salt (16 random bytes), N = 2^14, r = 8, p = 2, keyLength = 32 (RFC 7914 §7).
      const kdfParams = lines.filter((l) => l.depth === 5);
      assert.equal(kdfParams.length, 5, name);
      assert.equal(kdfParams[0]!.type, "OCTET STRING      [HEX DUMP]");
      assert.equal(kdfParams[0]!.length, 16);
      assert.deepEqual(
        kdfParams.slice(1).map((l) => [l.type, l.value]),
        [
          ["INTEGER", "4000"],
          ["INTEGER", "08"],
          ["INTEGER", "02"],
          ["INTEGER", "20"],
        ],
        name,
      );
      // aes-256-cbc IV: 16 bytes; the encrypted data a whole number of AES blocks.
      const iv = lines.find((l) => l.depth === 4 && l.type.startsWith("OCTET STRING"))!;
      assert.equal(iv.length, 16, name);
      const data = lines.find((l) => l.depth === 1 && l.type.startsWith("OCTET STRING"))!;
      assert.equal(data.length % 16, 0, name);
    }
    // One salt per home (one derivation per process), one IV per file.
    const ivs = CA_KEYS.map((name) => asn1parse(keyFile(name)).find((l) => l.depth === 4 && l.type.startsWith("OCTET STRING"))!.value);
    assert.equal(new Set(ivs).size, 3);
  });

  test("RFC 8018: a wrong passphrase makes openssl pkey fail (exit 1, no key printed); the right one still works", () => {
    // One key is enough: each attempt costs a full scrypt derivation.
    const r = openssl(["pkey", "-in", keyFile("root"), "-passin", `file:${wrongPassFile}`, "-pubout"]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^Could not read key from .*root\.key\.pem$/m);
    const ok = openssl(["pkey", "-in", keyFile("root"), "-passin", `file:${passFile}`, "-noout"]);
    assert.deepEqual([ok.status, ok.stdout, ok.stderr], [0, "", ""]);
  });

  test("RFC 5958 reverse direction: a P-256 key OpenSSL encrypts with `pkcs8 -topk8 -scrypt -v2 aes-256-cbc` opens with our parser", async () => {
    const plain = join(dir, "openssl-ec.pem");
    const encrypted = join(dir, "openssl-ec.enc.pem");
    opensslOk(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", plain]);
    opensslOk(["pkcs8", "-topk8", "-scrypt", "-v2", "aes-256-cbc", "-in", plain, "-passout", `file:${passFile}`, "-out", encrypted]);
    const blocks = pemBlocks(readFileSync(encrypted, "utf8"));
    assert.deepEqual(
      blocks.map((b) => b.label),
      ["ENCRYPTED PRIVATE KEY"],
    );
    const info = parseEncryptedPrivateKey(blocks[0]!.der);
    // The parameters we read are those OpenSSL wrote (its defaults: N = 16384, r = 8, p = 1).
    const lines = asn1parse(encrypted);
    const kdfParams = lines.filter((l) => l.depth === 5);
    assert.equal(Buffer.from(info.params.salt).toString("hex").toUpperCase(), kdfParams[0]!.value);
    assert.deepEqual([info.params.cost, info.params.blockSize, info.params.parallelization], [16384, 8, 1]);
    assert.equal(Buffer.from(info.iv).toString("hex").toUpperCase(), lines.find((l) => l.depth === 4 && l.type.startsWith("OCTET STRING"))!.value);

    const key = decryptPrivateKey(info, await deriveKey(PASSPHRASE, info.params));
    assert.equal(key.asymmetricKeyType, "ec");
    assert.deepEqual(key.asymmetricKeyDetails, { namedCurve: "prime256v1" });
    const ours = key.export({ format: "der", type: "pkcs8" });
    const theirs = Buffer.from(opensslOk(["pkcs8", "-topk8", "-nocrypt", "-in", plain, "-outform", "PEM"]).replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    assert.equal(ours.toString("hex"), theirs.toString("hex"));

    // And the wrong passphrase is refused by our parser too.
    await assert.rejects(
      deriveKey(`${PASSPHRASE}!`, info.params).then((k) => decryptPrivateKey(info, k)),
      (e: unknown) => e instanceof WrongPassphraseError && e.message === "wrong passphrase",
    );
  });

  test("RFC 7914 §7 reverse direction: non-default scrypt parameters (N=2^10, r=8, p=3) and an RSA key are read from OpenSSL's file", async () => {
    const plain = join(dir, "openssl-rsa.pem");
    const encrypted = join(dir, "openssl-rsa.enc.pem");
    opensslOk(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", plain]);
    opensslOk(["pkcs8", "-topk8", "-scrypt", "-scrypt_N", "1024", "-scrypt_r", "8", "-scrypt_p", "3", "-v2", "aes-256-cbc", "-in", plain, "-passout", `file:${passFile}`, "-out", encrypted]);
    const info = parseEncryptedPrivateKey(pemBlocks(readFileSync(encrypted, "utf8"))[0]!.der);
    assert.deepEqual([info.params.cost, info.params.blockSize, info.params.parallelization], [1024, 8, 3]);
    const key = decryptPrivateKey(info, await deriveKey(PASSPHRASE, info.params));
    assert.equal(key.asymmetricKeyType, "rsa");
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(createPublicKey(key).export({ format: "pem", type: "spki" }), opensslOk(["pkey", "-in", plain, "-pubout"]));
  });
});
