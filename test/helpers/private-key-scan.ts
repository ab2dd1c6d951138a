/**
 * Does a directory hold private key material anywhere? Looks in every file, as bytes and inside
 * every base64 run (JSON fields, PEM bodies), for the structures a private key is stored in:
 * PEM private-key blocks (plain, encrypted, EC, RSA), PKCS#8 PrivateKeyInfo (version 0 followed by
 * an EC or RSA AlgorithmIdentifier), SEC1 ECPrivateKey (version 1 followed by a 32- or 48-byte
 * OCTET STRING) and PKCS#1 RSAPrivateKey (public exponent 65537 followed by another big INTEGER,
 * where a certificate's key would be followed by extensions).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

export interface KeyMaterialFinding {
  readonly file: string;
  readonly what: string;
  readonly where: "bytes" | "base64";
}

const PEM_PRIVATE = /-----BEGIN ((?:ENCRYPTED |EC |RSA )?PRIVATE KEY)-----/;
const STRUCTURES: readonly { what: string; bytes: Buffer }[] = [
  // PrivateKeyInfo: INTEGER 0, SEQUENCE { OID id-ecPublicKey
  { what: "PKCS#8 EC private key", bytes: Buffer.from("020100301306072a8648ce3d0201", "hex") },
  { what: "PKCS#8 EC private key (P-384 parameters)", bytes: Buffer.from("020100301006072a8648ce3d0201", "hex") },
  // PrivateKeyInfo: INTEGER 0, SEQUENCE { OID rsaEncryption
  { what: "PKCS#8 RSA private key", bytes: Buffer.from("020100300d06092a864886f70d010101", "hex") },
  // ECPrivateKey: INTEGER 1, OCTET STRING (32 or 48 bytes)
  { what: "SEC1 EC private key (P-256)", bytes: Buffer.from("0201010420", "hex") },
  { what: "SEC1 EC private key (P-384)", bytes: Buffer.from("0201010430", "hex") },
  // RSAPrivateKey: ..., publicExponent 65537, privateExponent INTEGER (long form length)
  { what: "PKCS#1 RSA private key", bytes: Buffer.from("0203010001028201", "hex") },
  { what: "PKCS#1 RSA private key", bytes: Buffer.from("0203010001028202", "hex") },
  // EncryptedPrivateKeyInfo: SEQUENCE { SEQUENCE { OID PBES2
  { what: "PKCS#8 encrypted private key", bytes: Buffer.from("06092a864886f70d01050d", "hex") },
];

function structuresIn(bytes: Buffer): string[] {
  return STRUCTURES.filter((s) => bytes.includes(s.bytes)).map((s) => s.what);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

export function findPrivateKeyMaterial(dir: string): KeyMaterialFinding[] {
  const findings: KeyMaterialFinding[] = [];
  for (const path of filesUnder(dir)) {
    const file = relative(dir, path);
    const bytes = readFileSync(path);
    const text = bytes.toString("latin1");
    const pem = PEM_PRIVATE.exec(text);
    if (pem) findings.push({ file, what: `PEM ${pem[1]} block`, where: "bytes" });
    for (const what of structuresIn(bytes)) findings.push({ file, what, where: "bytes" });
    // Base64 runs (PEM bodies joined across line breaks, JSON strings): decode and look again.
    for (const run of text.replace(/\\n|\r?\n/g, "").match(/[A-Za-z0-9+/_-]{64,}={0,2}/g) ?? []) {
      const decoded = Buffer.from(run.replace(/-/g, "+").replace(/_/g, "/"), "base64");
      for (const what of structuresIn(decoded)) findings.push({ file, what, where: "base64" });
    }
  }
  return findings;
}
