/** RFC 7512 PKCS#11 URIs: what Trustline accepts, what it refuses and why, and the URIs it writes. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatKeyUri, parsePkcs11Uri } from "../../ca/keys/pkcs11/uri.js";
import { ecdsaRawToDer } from "../../ca/keys/ecdsa-der.js";
import { isTrustlineError } from "../../ca/errors.js";

const refused = (uri: string, why: RegExp) =>
  assert.throws(() => parsePkcs11Uri(uri), (e: unknown) => isTrustlineError(e, "USAGE") && why.test(e.message), uri);

test("a store, a key by label, by label and id, percent-encoded values, module path and PIN file", () => {
  assert.deepEqual(parsePkcs11Uri("pkcs11:token=ca-token"), { token: "ca-token" });
  assert.deepEqual(parsePkcs11Uri("pkcs11:token=ca-token;object=device-ca;type=private"), { token: "ca-token", object: "device-ca" });
  assert.deepEqual(parsePkcs11Uri("pkcs11:token=Plant%20Lyon;object=ca%3bkey;id=%01%a0"), { token: "Plant Lyon", object: "ca;key", id: new Uint8Array([1, 0xa0]) });
  assert.deepEqual(parsePkcs11Uri("pkcs11:token=t?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin"), { token: "t", modulePath: "/usr/lib/softhsm/libsofthsm2.so", pinFile: "/run/secrets/pin" });
});

test("refused with the reason: no token, unknown or repeated attributes, raw reserved characters, other types, and a PIN in the URI (never echoed)", () => {
  refused("pkcs11:object=x", /no token= label/);
  refused("file:keys/x", /does not start with pkcs11:/);
  refused("pkcs11:token=a;token=b", /given twice/);
  refused("pkcs11:token=a;colour=blue", /unknown path attribute "colour"/);
  refused("pkcs11:token=a b", /must be percent-encoded/);
  refused("pkcs11:token=a;type=cert", /type=private/);
  refused("pkcs11:token=a;slot-id=3", /name the token by its label/);
  refused("pkcs11:token=a?pin-source=/run/pin", /pin-source must be file:/);
  refused("pkcs11:token=%ff", /not valid UTF-8/);
  assert.throws(() => parsePkcs11Uri("pkcs11:token=a?pin-value=s3cret"), (e: unknown) => isTrustlineError(e, "USAGE") && /pin-value would store the PIN/.test(e.message) && !e.message.includes("s3cret"));
});

test("the key URIs Trustline writes parse back to the same token, object and id, keeping module path and PIN file", () => {
  const store = parsePkcs11Uri("pkcs11:token=Plant%20Lyon?module-path=/opt/hsm/lib%20p11.so&pin-source=file:/run/pin");
  const id = new Uint8Array([0, 0x41, 0xff, 0x2e]);
  const uri = formatKeyUri(store, "trustline-device-0a1b2c", id);
  assert.equal(uri, "pkcs11:token=Plant%20Lyon;object=trustline-device-0a1b2c;id=%00%41%ff%2e;type=private?module-path=/opt/hsm/lib%20p11.so&pin-source=file:/run/pin");
  assert.deepEqual(parsePkcs11Uri(uri), { token: "Plant Lyon", object: "trustline-device-0a1b2c", id, modulePath: "/opt/hsm/lib p11.so", pinFile: "/run/pin" });
});

test("a key-encryption key's URI says type=secret-key, and parses back with it", () => {
  const store = parsePkcs11Uri("pkcs11:token=ca-token");
  const uri = formatKeyUri(store, "trustline-data-key-0a1b2c", new Uint8Array([1, 2]), "secret-key");
  assert.equal(uri, "pkcs11:token=ca-token;object=trustline-data-key-0a1b2c;id=%01%02;type=secret-key");
  assert.deepEqual(parsePkcs11Uri(uri), { token: "ca-token", object: "trustline-data-key-0a1b2c", id: new Uint8Array([1, 2]), type: "secret-key" });
});

test("raw ECDSA r||s becomes minimal DER INTEGERs: leading zeros dropped, 0x00 before a high bit; a wrong length is refused", () => {
  const r = Buffer.alloc(32, 0);
  r[1] = 0x80; // r = 0x0080..: one zero dropped, high bit needs the 0x00 back
  const s = Buffer.alloc(32, 0);
  s[31] = 0x05; // s = 5
  const der = Buffer.from(ecdsaRawToDer(Buffer.concat([r, s]), 32));
  assert.equal(der.toString("hex"), `3025` + `0220` + `0080${"00".repeat(30)}` + `020105`);
  assert.throws(() => ecdsaRawToDer(Buffer.alloc(63), 32), (e: unknown) => isTrustlineError(e, "KEY_UNAVAILABLE"));
});
