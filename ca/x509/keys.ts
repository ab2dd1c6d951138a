/** Public and private key helpers on node:crypto. */
import { createPrivateKey, createPublicKey, generateKeyPair as nodeGenerateKeyPair, generateKeyPairSync, type KeyObject } from "node:crypto";
import type { KeyAlgorithm, KeyDescription } from "../../policy/index.js";
import { children, content, readRoot } from "./der.js";
import { describeSpki } from "./spki.js";

const KEY_PARAMETERS: Readonly<Record<KeyAlgorithm, { type: "ec"; namedCurve: string } | { type: "rsa"; modulusLength: number }>> = {
  p256: { type: "ec", namedCurve: "P-256" },
  p384: { type: "ec", namedCurve: "P-384" },
  rsa2048: { type: "rsa", modulusLength: 2048 },
  rsa3072: { type: "rsa", modulusLength: 3072 },
  rsa4096: { type: "rsa", modulusLength: 4096 },
};

/**
 * A new key pair. Generated as DER and imported afresh: Node 20 can deadlock when a KeyObject
 * returned by generateKeyPair is queried (asymmetricKeyDetails, export) while the garbage collector
 * frees the key-generation job that shares its lock; keys imported from DER share no such lock.
 */
export async function generateKeyPair(algorithm: KeyAlgorithm): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  const p = KEY_PARAMETERS[algorithm];
  const encoding = { publicKeyEncoding: { type: "spki", format: "der" }, privateKeyEncoding: { type: "pkcs8", format: "der" } } as const;
  const pair = await new Promise<{ publicKey: Buffer; privateKey: Buffer }>((resolve, reject) => {
    const done = (err: Error | null, publicKey: Buffer, privateKey: Buffer) => (err ? reject(err) : resolve({ publicKey, privateKey }));
    if (p.type === "ec") nodeGenerateKeyPair("ec", { namedCurve: p.namedCurve, ...encoding }, done);
    else nodeGenerateKeyPair("rsa", { modulusLength: p.modulusLength, ...encoding }, done);
  });
  const privateKey = createPrivateKey({ key: pair.privateKey, format: "der", type: "pkcs8" });
  pair.privateKey.fill(0);
  return { privateKey, publicKey: createPublicKey({ key: pair.publicKey, format: "der", type: "spki" }) };
}

/**
 * The synchronous form, for scripts and tests, with the same care: any key type node:crypto
 * generates (RSA-1024 included, to make refused requests with).
 */
export function newKeyPair(type: "ec" | "rsa" | "ed25519", options: { namedCurve?: string; modulusLength?: number; publicExponent?: number } = {}): { privateKey: KeyObject; publicKey: KeyObject } {
  const encoding = { publicKeyEncoding: { type: "spki", format: "der" }, privateKeyEncoding: { type: "pkcs8", format: "der" } } as const;
  const pair = generateKeyPairSync(type as "ec", { ...(options as { namedCurve: string }), ...encoding }) as unknown as { privateKey: Buffer; publicKey: Buffer };
  return {
    privateKey: createPrivateKey({ key: pair.privateKey, format: "der", type: "pkcs8" }),
    publicKey: createPublicKey({ key: pair.publicKey, format: "der", type: "spki" }),
  };
}

export function spkiOf(publicKey: KeyObject): Uint8Array {
  return new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
}

/** What kind of key this is, in the policy engine's terms (read from the SPKI, not from node's key details). */
export function describePublicKey(key: KeyObject): KeyDescription {
  return describeSpki(spkiOf(key));
}

/** The subjectPublicKey BIT STRING's value inside an SPKI (what key identifiers hash). */
export function subjectPublicKeyBits(spki: Uint8Array): Uint8Array {
  const root = readRoot(spki);
  const [, bits] = children(spki, root);
  if (bits === undefined || bits.tag !== 0x03) throw new Error("SubjectPublicKeyInfo without a BIT STRING");
  return content(spki, bits).subarray(1);
}

export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: "der", type: "spki" });
}
