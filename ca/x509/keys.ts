/** Public and private key helpers on node:crypto. */
import { createPublicKey, generateKeyPair as nodeGenerateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import type { KeyAlgorithm, KeyDescription } from "../../policy/index.js";
import { children, content, readRoot } from "./der.js";

const generateKeyPairAsync = promisify(nodeGenerateKeyPair);

export async function generateKeyPair(algorithm: KeyAlgorithm): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  switch (algorithm) {
    case "p256":
      return generateKeyPairAsync("ec", { namedCurve: "P-256" });
    case "p384":
      return generateKeyPairAsync("ec", { namedCurve: "P-384" });
    case "rsa2048":
      return generateKeyPairAsync("rsa", { modulusLength: 2048 });
    case "rsa3072":
      return generateKeyPairAsync("rsa", { modulusLength: 3072 });
    case "rsa4096":
      return generateKeyPairAsync("rsa", { modulusLength: 4096 });
  }
}

export function spkiOf(publicKey: KeyObject): Uint8Array {
  return new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
}

const CURVE_NAMES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

/** What kind of key this is, in the policy engine's terms. */
export function describePublicKey(key: KeyObject): KeyDescription {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "ec") {
    const curve = details.namedCurve ?? "unknown";
    return { type: "ec", curve: CURVE_NAMES[curve] ?? curve };
  }
  if (key.asymmetricKeyType === "rsa") return { type: "rsa", bits: details.modulusLength ?? 0 };
  return { type: "other", name: key.asymmetricKeyType ?? "unknown" };
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
