/**
 * PKCS#12 export, with OpenSSL 3 as referee: it must open the file, show the algorithms we claim
 * (PBES2/PBKDF2/AES-256-CBC, MAC SHA-256, no SHA-1), give back the very key and certificates, and
 * refuse a wrong password. Node's TLS stack and pkijs's reader must load it too. Most tests use
 * 2048 iterations to stay fast; one runs at the default.
 */
import { newKeyPair } from "../helpers/keys.js";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import * as pkijs from "pkijs";
import { DEFAULT_PKCS12_ITERATIONS, buildPkcs12 } from "../../ca/x509/pkcs12.js";
import { children, content, readRoot, type Tlv } from "../../ca/x509/der.js";
import { isTrustlineError } from "../../ca/errors.js";

const PASSWORD = "correct horse battery staple"; // throwaway test password
const FAST = 2048;

interface Identity {
  readonly key: KeyObject;
  readonly cert: Uint8Array;
}

let dir: string;
let ec: Identity;
let rsa: Identity;
let ca: Identity;
let fileCount = 0;

function run(args: readonly string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8", ...(input === undefined ? {} : { input }) });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A real self-signed certificate made by `openssl req -x509` for the given key. */
function selfSigned(key: KeyObject, cn: string): Identity {
  const keyFile = join(dir, `${cn}.key.pem`);
  const certFile = join(dir, `${cn}.cert.der`);
  writeFileSync(keyFile, key.export({ type: "pkcs8", format: "pem" }));
  const r = run(["req", "-x509", "-new", "-key", keyFile, "-subj", `/CN=${cn}`, "-days", "1", "-outform", "DER", "-out", certFile]);
  assert.equal(r.status, 0, r.stderr);
  return { key, cert: new Uint8Array(readFileSync(certFile)) };
}

function writePfx(pfx: Uint8Array): string {
  const file = join(dir, `out-${++fileCount}.p12`);
  writeFileSync(file, pfx);
  return file;
}

/** `openssl pkcs12 -info -noenc`: the info lines go to stderr, keys and certificates to stdout. */
function opensslInfo(file: string, password: string) {
  return run(["pkcs12", "-in", file, "-passin", `pass:${password}`, "-info", "-noenc"]);
}

function pemBlocks(text: string, label: string): string[] {
  return text.match(new RegExp(`-----BEGIN ${label}-----[^-]+-----END ${label}-----\\n`, "g")) ?? [];
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
}

function spkiPem(key: KeyObject): string {
  return createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
}

/** "localKeyID: AB CD …" as openssl prints it. */
function localKeyIdLine(cert: Uint8Array): string {
  const hex = createHash("sha256").update(cert).digest("hex").toUpperCase().match(/../g)!.join(" ");
  return `localKeyID: ${hex}`;
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/** Every element below `t` uses definite, minimal lengths (readTlv enforces) and no constructed OCTET STRING. */
function assertDer(buf: Uint8Array, t: Tlv = readRoot(buf)): void {
  assert.notEqual(t.tag, 0x24, "constructed OCTET STRING (BER only)");
  if (t.tag & 0x20) for (const c of children(buf, t)) assertDer(buf, c);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "trustline-pkcs12-"));
  ec = selfSigned(newKeyPair("ec", { namedCurve: "P-256" }).privateKey, "device-ec");
  rsa = selfSigned(newKeyPair("rsa", { modulusLength: 2048 }).privateKey, "device-rsa");
  ca = selfSigned(newKeyPair("ec", { namedCurve: "P-384" }).privateKey, "issuing-ca");
});

after(() => rmSync(dir, { recursive: true, force: true }));

test("P-256 key, leaf and chain: OpenSSL opens it and shows PBES2/AES-256-CBC, MAC SHA-256, no SHA-1", async () => {
  const pfx = await buildPkcs12({ privateKey: ec.key, certificate: ec.cert, chain: [ca.cert], password: PASSWORD, friendlyName: "device-0042", iterations: FAST });
  const info = opensslInfo(writePfx(pfx), PASSWORD);
  assert.equal(info.status, 0, info.stderr);

  assert.match(info.stderr, /^MAC: sha256, Iteration 2048$/m);
  assert.match(info.stderr, /^MAC length: 32, salt length: 16$/m);
  assert.match(info.stderr, /^PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256$/m);
  assert.match(info.stderr, /^Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256$/m);
  // (PEM bodies left out: base64 may spell "sha1" by chance.)
  assert.doesNotMatch(info.stderr + info.stdout.replace(/-----BEGIN [^-]+-----[^-]+-----END [^-]+-----/g, ""), /sha-?1/i);

  // The key that comes out is the key that went in.
  const keys = pemBlocks(info.stdout, "PRIVATE KEY");
  assert.equal(keys.length, 1);
  const pub = run(["pkey", "-pubout"], keys[0]);
  assert.equal(pub.status, 0, pub.stderr);
  assert.equal(pub.stdout, spkiPem(ec.key));

  // Both certificates, byte for byte, leaf first.
  const certs = pemBlocks(info.stdout, "CERTIFICATE").map(pemToDer);
  assert.deepEqual(certs, [Buffer.from(ec.cert), Buffer.from(ca.cert)]);

  // friendlyName and localKeyId on the key bag and the leaf's cert bag, not on the CA's.
  assert.equal(count(info.stdout, "friendlyName: device-0042"), 2);
  assert.equal(count(info.stdout, localKeyIdLine(ec.cert)), 2);
  assert.equal(count(info.stdout, "Bag Attributes: <No Attributes>"), 1);

  // DER throughout: the PFX, its AuthenticatedSafe and the plain SafeContents inside it.
  const root = readRoot(pfx);
  const [, authSafeInfo] = children(pfx, root);
  const authSafe = content(pfx, children(pfx, children(pfx, authSafeInfo!)[1]!)[0]!);
  assertDer(authSafe);
  const [encrypted, data] = children(authSafe, readRoot(authSafe));
  const encryptedContentInfo = children(authSafe, children(authSafe, children(authSafe, encrypted!)[1]!)[0]!)[1]!;
  assert.equal(children(authSafe, encryptedContentInfo)[2]!.tag, 0x80, "encryptedContent is one primitive [0]");
  const keySafe = content(authSafe, children(authSafe, children(authSafe, data!)[1]!)[0]!);
  assertDer(keySafe);
  assertDer(pfx);
});

test("RSA-2048 key, no chain, no friendlyName", async () => {
  const pfx = await buildPkcs12({ privateKey: rsa.key, certificate: rsa.cert, chain: [], password: PASSWORD, iterations: FAST });
  const info = opensslInfo(writePfx(pfx), PASSWORD);
  assert.equal(info.status, 0, info.stderr);
  const keys = pemBlocks(info.stdout, "PRIVATE KEY");
  assert.equal(keys.length, 1);
  assert.equal(run(["pkey", "-pubout"], keys[0]).stdout, spkiPem(rsa.key));
  assert.deepEqual(pemBlocks(info.stdout, "CERTIFICATE").map(pemToDer), [Buffer.from(rsa.cert)]);
  assert.doesNotMatch(info.stdout, /friendlyName/);
  assert.equal(count(info.stdout, localKeyIdLine(rsa.cert)), 2);
});

test("a wrong password fails the MAC in OpenSSL and in Node", async () => {
  const pfx = await buildPkcs12({ privateKey: ec.key, certificate: ec.cert, chain: [ca.cert], password: PASSWORD, iterations: FAST });
  const info = opensslInfo(writePfx(pfx), "not the password");
  assert.notEqual(info.status, 0);
  assert.match(info.stderr, /Mac verify error/);
  assert.throws(() => createSecureContext({ pfx: Buffer.from(pfx), passphrase: "not the password" }));
});

test("Node's TLS stack loads it", async () => {
  for (const id of [ec, rsa]) {
    const pfx = await buildPkcs12({ privateKey: id.key, certificate: id.cert, chain: [ca.cert], password: PASSWORD, iterations: FAST });
    assert.doesNotThrow(() => createSecureContext({ pfx: Buffer.from(pfx), passphrase: PASSWORD }));
  }
});

test("a non-ASCII password: UTF-8 for PBES2 and UTF-16 for the MAC agree with OpenSSL and Node", async () => {
  const password = "pässwörd-日本-🔑";
  const pfx = await buildPkcs12({ privateKey: ec.key, certificate: ec.cert, chain: [], password, iterations: FAST });
  const info = opensslInfo(writePfx(pfx), password);
  assert.equal(info.status, 0, info.stderr);
  assert.equal(pemBlocks(info.stdout, "PRIVATE KEY").length, 1);
  assert.doesNotThrow(() => createSecureContext({ pfx: Buffer.from(pfx), passphrase: password }));
});

test("pkijs reads it back with an explicitly passed engine: MAC verifies, both safes decrypt", async () => {
  const engine = new pkijs.CryptoEngine({ name: "node", crypto: globalThis.crypto });
  const pfx = await buildPkcs12({ privateKey: ec.key, certificate: ec.cert, chain: [ca.cert], password: PASSWORD, friendlyName: "device-0042", iterations: FAST });
  const password = new TextEncoder().encode(PASSWORD).buffer;
  const parsed = pkijs.PFX.fromBER(pfx);
  await parsed.parseInternalValues({ password, checkIntegrity: true }, engine);
  const authenticatedSafe = parsed.parsedValue!.authenticatedSafe!;
  await authenticatedSafe.parseInternalValues({ safeContents: [{ password }, {}] }, engine);
  const [certs, keys] = authenticatedSafe.parsedValue!.safeContents;
  assert.equal(certs!.privacyMode, 1);
  assert.equal(certs!.value.safeBags.length, 2);
  const keyBag = keys!.value.safeBags[0]!.bagValue as pkijs.PKCS8ShroudedKeyBag;
  // parseInternalValues is protected in the typings, though it is the documented way to decrypt.
  await (keyBag as unknown as { parseInternalValues(p: { password: ArrayBuffer }, c: pkijs.ICryptoEngine): Promise<void> }).parseInternalValues({ password }, engine);
  assert.deepEqual(Buffer.from(keyBag.parsedValue!.toSchema().toBER(false)), ec.key.export({ type: "pkcs8", format: "der" }));
});

test(`the default (${DEFAULT_PKCS12_ITERATIONS} iterations) is used everywhere and stays fast`, async (t) => {
  const started = performance.now();
  const pfx = await buildPkcs12({ privateKey: ec.key, certificate: ec.cert, chain: [ca.cert], password: PASSWORD, friendlyName: "device-0042" });
  const ms = performance.now() - started;
  t.diagnostic(`one build at ${DEFAULT_PKCS12_ITERATIONS} iterations: ${ms.toFixed(0)} ms`);
  assert.ok(ms < 5000, `a build took ${ms.toFixed(0)} ms`); // generous: CI machines vary; ~0.25 s expected
  const info = opensslInfo(writePfx(pfx), PASSWORD);
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stderr, new RegExp(`^MAC: sha256, Iteration ${DEFAULT_PKCS12_ITERATIONS}$`, "m"));
  assert.equal(count(info.stderr, `AES-256-CBC, Iteration ${DEFAULT_PKCS12_ITERATIONS}, PRF hmacWithSHA256`), 2);
  assert.doesNotThrow(() => createSecureContext({ pfx: Buffer.from(pfx), passphrase: PASSWORD }));
});

test("fresh salts and IVs: two builds of the same input differ", async () => {
  const input = { privateKey: ec.key, certificate: ec.cert, chain: [], password: PASSWORD, iterations: FAST };
  assert.notDeepEqual(await buildPkcs12(input), await buildPkcs12(input));
});

test("bad input is refused before any work", async () => {
  const base = { privateKey: ec.key, certificate: ec.cert, chain: [], password: PASSWORD, iterations: FAST };
  const refused = (e: unknown) => isTrustlineError(e, "INPUT_INVALID");
  await assert.rejects(buildPkcs12({ ...base, certificate: rsa.cert }), refused); // key does not match
  await assert.rejects(buildPkcs12({ ...base, password: "" }), refused);
  await assert.rejects(buildPkcs12({ ...base, password: "\ud800" }), refused); // lone surrogate
  await assert.rejects(buildPkcs12({ ...base, iterations: 999 }), refused);
  await assert.rejects(buildPkcs12({ ...base, chain: [Uint8Array.of(1, 2, 3)] }), refused);
  await assert.rejects(buildPkcs12({ ...base, privateKey: createPublicKey(ec.key) }), refused);
  const ed = newKeyPair("ed25519").privateKey;
  await assert.rejects(buildPkcs12({ ...base, privateKey: ed }), refused);
});
