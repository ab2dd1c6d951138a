/**
 * Public keys a CA must never certify, and a verifier must never trust: the checks every key from
 * outside passes before it is imported (CSRs, certificates on a path, CRL and firmware signers).
 *
 * RSA: the partial public-key validation of NIST SP 800-89 §5.3.3. A key with e = 1 "verifies"
 * any signature whose value equals the padded digest, so a CSR's proof of possession means nothing
 * and a firmware signature can be forged without a private key; even exponents, tiny exponents
 * and moduli with small factors are the other classic ways to a key nobody should trust.
 * EC: only uncompressed points of the named curve (SEC 1 §2.3.4 forms 0x02/0x03 compressed and
 * 0x06/0x07 hybrid, and the single 0x00 octet of the point at infinity, are refused); whether the
 * point lies on the curve is checked by OpenSSL when node:crypto imports it.
 */

/** Why a key is refused, in words a person can act on. */
export class PublicKeyRejected extends Error {
  override readonly name = "PublicKeyRejected";
}

/** The odd primes below 752 (SP 800-89 §5.3.3 step 4: "no factors smaller than 752"), as one product. */
const SMALL_PRIMES_PRODUCT: bigint = (() => {
  let product = 1n;
  for (let p = 3; p < 752; p += 2) {
    let prime = true;
    for (let d = 3; d * d <= p; d += 2) if (p % d === 0) prime = false;
    if (prime) product *= BigInt(p);
  }
  return product;
})();

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

const toBigInt = (magnitude: Uint8Array): bigint => (magnitude.length === 0 ? 0n : BigInt(`0x${Buffer.from(magnitude).toString("hex")}`));

/** A DER INTEGER's content that must be positive and minimally encoded. */
function positiveMagnitude(integer: Uint8Array, what: string): Uint8Array {
  if (integer.length === 0) throw new PublicKeyRejected(`the RSA ${what} is empty`);
  if (integer[0]! & 0x80) throw new PublicKeyRejected(`the RSA ${what} is negative`);
  if (integer.length > 1 && integer[0] === 0 && (integer[1]! & 0x80) === 0) throw new PublicKeyRejected(`the RSA ${what} is not minimally encoded (not DER)`);
  return integer[0] === 0 ? integer.subarray(1) : integer;
}

/**
 * SP 800-89 §5.3.3 partial public-key validation of (n, e), given as DER INTEGER contents:
 * e odd and 2^16 < e < 2^256; n odd, with no prime factor below 752. The modulus size a profile
 * allows is the policy engine's to judge (so an RSA-1024 request is a policy refusal, not a parse error).
 */
export function checkRsaPublicKey(nInteger: Uint8Array, eInteger: Uint8Array): void {
  const e = positiveMagnitude(eInteger, "public exponent");
  const n = positiveMagnitude(nInteger, "modulus");
  if (e.length > 32) throw new PublicKeyRejected("the RSA public exponent is 2^256 or more (SP 800-89 §5.3.3 allows 2^16 < e < 2^256)");
  if ((e[e.length - 1]! & 1) === 0) throw new PublicKeyRejected("the RSA public exponent is even (SP 800-89 §5.3.3)");
  const eValue = toBigInt(e);
  if (eValue <= 65536n) throw new PublicKeyRejected(`the RSA public exponent ${eValue} is too small: it must be at least 65537 (SP 800-89 §5.3.3)`);
  if ((n[n.length - 1]! & 1) === 0) throw new PublicKeyRejected("the RSA modulus is even (SP 800-89 §5.3.3)");
  if (gcd(toBigInt(n) % SMALL_PRIMES_PRODUCT, SMALL_PRIMES_PRODUCT) !== 1n) throw new PublicKeyRejected("the RSA modulus has a prime factor below 752 (SP 800-89 §5.3.3)");
}

/** An EC public key's point: uncompressed, of the curve's size (SEC 1 §2.3.3). */
export function checkEcPoint(point: Uint8Array, curveBytes: number, curve: string): void {
  if (point.length === 1 && point[0] === 0) throw new PublicKeyRejected("the EC public key is the point at infinity");
  const form = point[0];
  if (form === 0x02 || form === 0x03) throw new PublicKeyRejected(`the EC public key is a compressed point, which the profile does not allow (use the uncompressed form)`);
  if (form === 0x06 || form === 0x07) throw new PublicKeyRejected(`the EC public key is a hybrid point, which the profile does not allow (use the uncompressed form)`);
  if (form !== 0x04 || point.length !== 1 + 2 * curveBytes) throw new PublicKeyRejected(`the EC public key is not an uncompressed ${curve} point`);
}
