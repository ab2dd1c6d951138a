/**
 * PKCS#12 (RFC 7292) export: a private key, its certificate and the issuing chain in one
 * password-protected PFX, laid out the way OpenSSL 3 writes it by default, minus SHA-1:
 *
 *   PFX v3
 *   ├─ authSafe (data) = AuthenticatedSafe
 *   │   ├─ encryptedData, PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC)
 *   │   │    └─ SafeContents: certBag(leaf, friendlyName + localKeyId), certBag(chain…)
 *   │   └─ data
 *   │        └─ SafeContents: pkcs8ShroudedKeyBag, PBES2 as above (friendlyName + localKeyId)
 *   └─ macData: HMAC-SHA256, key from the RFC 7292 appendix B KDF with SHA-256
 *
 * pkijs supplies the ASN.1 structures; the cryptography is node:crypto. pkijs's own
 * makeInternalValues path is deliberately not used: it draws 64-byte salts with no way to ask
 * for 16, splits encrypted content into indefinite-length BER (not DER) unless told otherwise,
 * and runs the appendix B KDF in pure JavaScript on the calling thread (a stock build at 300,000
 * iterations took 0.5 s, mostly blocking). Not calling pkijs crypto also means no pkijs engine.
 */
import { X509Certificate, createCipheriv, createPublicKey, createHash, createHmac, hash, pbkdf2, randomBytes, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { TrustlineError } from "../errors.js";
import { describeSpki } from "./spki.js";

export interface Pkcs12Input {
  /** EC P-256/P-384 or RSA; must match the certificate. */
  readonly privateKey: KeyObject;
  /** The leaf certificate, DER. */
  readonly certificate: Uint8Array;
  /** Issuing CA certificates, DER, nearest first; may be empty. */
  readonly chain: readonly Uint8Array[];
  readonly password: string;
  /** Shown as the key's and the leaf's alias by OpenSSL, Windows, Java and .NET (e.g. the registration ID). */
  readonly friendlyName?: string;
  /** PBKDF2 and MAC iteration count; default DEFAULT_PKCS12_ITERATIONS. Above 300,000 .NET refuses the file by default. */
  readonly iterations?: number;
}

/**
 * 200,000, used for the key, the certificates and the MAC alike.
 *
 * - Why the MAC too: the MAC is a password oracle. With OpenSSL's default of 2048 MAC iterations
 *   a guesser would test passwords against the MAC and never pay for PBKDF2, so every KDF in the
 *   file gets the same count (the encrypted certificate safe is an oracle just as much). The MAC
 *   stays the cheapest target: r iterations of the appendix B KDF cost r SHA-256 compressions,
 *   r of PBKDF2-HMAC-SHA256 cost 2r, so a guess costs about what PBKDF2 at 100,000 would.
 * - Why not OWASP's 600,000: .NET's X509CertificateLoader (what the Azure IoT .NET SDK loads a
 *   device PFX with) refuses by default a MAC or any single KDF above 300,000 iterations, or more
 *   than 1,000,000 in total (Pkcs12LoaderLimits). And time: the appendix B KDF has no native
 *   implementation in Node, so it runs here as one hash call per iteration (~0.8 µs each); it
 *   runs beside the two PBKDF2 runs (libuv's pool), and on two loaded 2.6 GHz vCPUs one build
 *   takes 0.25-0.3 s at 200,000 but 0.4-0.5 s at 300,000, leaving no room for slower cores.
 *   Devices that open the file pay the same three derivations.
 * The iteration count only multiplies a password's strength: give device PFX files random ones.
 */
export const DEFAULT_PKCS12_ITERATIONS = 200_000;

/** SP 800-132's floor; tests may go as low as this, production should keep the default. */
const MIN_ITERATIONS = 1000;
/** PBKDF2 and MAC salts: 16 bytes, SP 800-132's 128-bit minimum (OpenSSL 3.0 still uses 8; 3.2 moved PBES2 to 16). */
const SALT_BYTES = 16;
/** Appendix B KDF iterations between two yields to the event loop. */
const KDF_CHUNK = 20_000;

const OID = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacWithSHA256: "1.2.840.113549.2.9",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  sha256: "2.16.840.1.101.3.4.2.1",
  pkcs8ShroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
} as const;

const pbkdf2Async = promisify(pbkdf2);

/** Builds a DER PFX; see the file comment for its layout. */
export async function buildPkcs12(input: Pkcs12Input): Promise<Uint8Array> {
  const iterations = input.iterations ?? DEFAULT_PKCS12_ITERATIONS;
  checkInput(input, iterations);

  // OpenSSL uses SHA-1 of the certificate here; any octet string works as long as the key bag
  // and the leaf's cert bag carry the same one, so SHA-256 it is.
  const localKeyId = createHash("sha256").update(input.certificate).digest();
  const attributes = () => bagAttributes(input.friendlyName, localKeyId);

  const certSafe = new pkijs.SafeContents({
    safeBags: [certBag(input.certificate, attributes()), ...input.chain.map((der) => certBag(der, undefined))],
  });
  const macSalt = randomBytes(SALT_BYTES);
  const pkcs8 = input.privateKey.export({ type: "pkcs8", format: "der" });
  // The three derivations depend only on the password and their salts, so they run together.
  const [keyEncryption, certEncryption, macKey] = await Promise.all([
    pbes2Encrypt(pkcs8, input.password, iterations),
    pbes2Encrypt(toDer(certSafe), input.password, iterations),
    pkcs12MacKey(input.password, macSalt, iterations),
  ]).finally(() => pkcs8.fill(0));

  const keyBag = new pkijs.SafeBag({
    bagId: OID.pkcs8ShroudedKeyBag,
    bagValue: new pkijs.PKCS8ShroudedKeyBag({
      encryptionAlgorithm: keyEncryption.algorithm,
      encryptedData: new asn1js.OctetString({ valueHex: keyEncryption.ciphertext }),
    }),
    bagAttributes: attributes(),
  });
  const encryptedCerts = new pkijs.EncryptedData({
    version: 0,
    encryptedContentInfo: new pkijs.EncryptedContentInfo({
      contentType: OID.data,
      contentEncryptionAlgorithm: certEncryption.algorithm,
      encryptedContent: new asn1js.OctetString({ valueHex: certEncryption.ciphertext }),
      disableSplit: true, // one primitive [0], i.e. DER, not 1024-byte BER chunks
    }),
  });
  // Certificates first, then the key: OpenSSL's order.
  const authenticatedSafe = new pkijs.AuthenticatedSafe({
    safeContents: [
      new pkijs.ContentInfo({ contentType: OID.encryptedData, content: encryptedCerts.toSchema() }),
      dataContentInfo(toDer(new pkijs.SafeContents({ safeBags: [keyBag] }))),
    ],
  });

  const authSafeDer = toDer(authenticatedSafe);
  const pfx = new pkijs.PFX({
    version: 3,
    authSafe: dataContentInfo(authSafeDer),
    macData: new pkijs.MacData({
      mac: new pkijs.DigestInfo({
        digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256, algorithmParams: new asn1js.Null() }),
        // The MAC covers the AuthenticatedSafe's encoding, i.e. the content of authSafe's OCTET STRING.
        digest: new asn1js.OctetString({ valueHex: createHmac("sha256", macKey).update(authSafeDer).digest() }),
      }),
      macSalt: new asn1js.OctetString({ valueHex: macSalt }),
      iterations,
    }),
  });
  return new Uint8Array(pfx.toSchema().toBER(false));
}

function checkInput(input: Pkcs12Input, iterations: number): void {
  const invalid = (message: string, cause?: unknown) => new TrustlineError("INPUT_INVALID", message, { cause });
  if (!Number.isSafeInteger(iterations) || iterations < MIN_ITERATIONS) {
    throw invalid(`PKCS#12 iterations must be an integer of at least ${MIN_ITERATIONS}, got ${iterations}.`);
  }
  // PBES2 takes the password as UTF-8 and the MAC as UTF-16; a lone surrogate has no UTF-8 form,
  // so the two would silently disagree. An empty password is treated as "no password" by readers.
  if (input.password.length === 0 || Buffer.from(input.password, "utf8").toString("utf8") !== input.password) {
    throw invalid("The PKCS#12 password must be a non-empty, well-formed Unicode string.");
  }
  const key = input.privateKey;
  const kind = key.type === "private" ? describeSpki(new Uint8Array(createPublicKey(key).export({ format: "der", type: "spki" }))) : undefined;
  if (!kind || !(kind.type === "rsa" || (kind.type === "ec" && (kind.curve === "P-256" || kind.curve === "P-384")))) {
    throw invalid("A PKCS#12 file can be made for an RSA, P-256 or P-384 private key only.");
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(input.certificate);
    input.chain.forEach((der) => new X509Certificate(der));
  } catch (e) {
    throw invalid("A certificate for the PKCS#12 file is not a DER X.509 certificate.", e);
  }
  if (!leaf.checkPrivateKey(key)) throw invalid("The private key does not belong to the PKCS#12 leaf certificate.");
}

/** friendlyName (BMPString) and localKeyId, as a DER SET OF: sorted by encoding (X.690 11.6). */
function bagAttributes(friendlyName: string | undefined, localKeyId: Uint8Array): pkijs.Attribute[] {
  const attributes = [new pkijs.Attribute({ type: OID.localKeyId, values: [new asn1js.OctetString({ valueHex: localKeyId })] })];
  if (friendlyName !== undefined) {
    attributes.push(new pkijs.Attribute({ type: OID.friendlyName, values: [new asn1js.BmpString({ value: friendlyName })] }));
  }
  return attributes
    .map((attribute) => ({ attribute, der: toDer(attribute) }))
    .sort((a, b) => Buffer.compare(a.der, b.der))
    .map(({ attribute }) => attribute);
}

/** The certificate goes in byte for byte (OCTET STRING), never re-encoded from a parsed form. */
function certBag(der: Uint8Array, attributes: pkijs.Attribute[] | undefined): pkijs.SafeBag {
  return new pkijs.SafeBag({
    bagId: OID.certBag,
    bagValue: new pkijs.CertBag({ certId: OID.x509Certificate, certValue: new asn1js.OctetString({ valueHex: der }) }),
    ...(attributes === undefined ? {} : { bagAttributes: attributes }),
  });
}

function dataContentInfo(content: Uint8Array): pkijs.ContentInfo {
  return new pkijs.ContentInfo({ contentType: OID.data, content: new asn1js.OctetString({ valueHex: content }) });
}

/**
 * PBES2 (RFC 8018 §6.2): PBKDF2-HMAC-SHA256 over the UTF-8 password (as OpenSSL feeds PBES2 in
 * a PFX) to a 32-byte key, AES-256-CBC with PKCS#7 padding (createCipheriv's default).
 */
async function pbes2Encrypt(plaintext: Uint8Array, password: string, iterations: number): Promise<{ algorithm: pkijs.AlgorithmIdentifier; ciphertext: Buffer }> {
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(16);
  const key = await pbkdf2Async(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  key.fill(0);

  const pbkdf2Params = new pkijs.PBKDF2Params({
    salt: new asn1js.OctetString({ valueHex: salt }),
    iterationCount: iterations,
    // keyLength is left out, as OpenSSL does: AES-256 fixes it. The prf must be explicit, its DEFAULT is HMAC-SHA1.
    prf: new pkijs.AlgorithmIdentifier({ algorithmId: OID.hmacWithSHA256, algorithmParams: new asn1js.Null() }),
  });
  const pbes2Params = new pkijs.PBES2Params({
    keyDerivationFunc: new pkijs.AlgorithmIdentifier({ algorithmId: OID.pbkdf2, algorithmParams: pbkdf2Params.toSchema() }),
    encryptionScheme: new pkijs.AlgorithmIdentifier({ algorithmId: OID.aes256Cbc, algorithmParams: new asn1js.OctetString({ valueHex: iv }) }),
  });
  return { algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.pbes2, algorithmParams: pbes2Params.toSchema() }), ciphertext };
}

/**
 * The MAC key: RFC 7292 appendix B.2 with SHA-256 (u = 32, v = 64 bytes) and ID 3. The password
 * is a NUL-terminated BMPString (B.1), i.e. UTF-16BE plus two zero bytes, as OpenSSL and .NET
 * encode it. A 32-byte key is one hash output, so only A_1 = H^r(D || I) is needed and step 6's
 * "I_j = I_j + B + 1" never runs. Node has no native iterated hash, so this is r one-shot
 * hashes (about 0.8 µs each), yielding now and then so the PBKDF2 callbacks and other work run.
 */
async function pkcs12MacKey(password: string, salt: Uint8Array, iterations: number): Promise<Buffer> {
  const v = 64;
  const bmpPassword = Buffer.concat([Buffer.from(password, "utf16le").swap16(), Buffer.alloc(2)]);
  const repeatToBlocks = (bytes: Uint8Array) => Buffer.alloc(v * Math.ceil(bytes.length / v), bytes);
  let a = Buffer.concat([Buffer.alloc(v, 3), repeatToBlocks(salt), repeatToBlocks(bmpPassword)]);
  for (let done = 0; done < iterations; ) {
    const stop = Math.min(iterations, done + KDF_CHUNK);
    for (; done < stop; done++) a = hash("sha256", a, "buffer");
    if (done < iterations) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return a;
}

function toDer(value: { toSchema(): asn1js.BaseBlock }): Buffer {
  return Buffer.from(value.toSchema().toBER(false));
}
