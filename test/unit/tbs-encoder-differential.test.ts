/**
 * Differential test: the fast fixed-layout encoder and the general @peculiar/x509 path produce the
 * same TBSCertificate, byte for byte, over many random inputs (names, dates on both sides of 2050,
 * key types, profiles, URLs, device subjectAltName URIs or none).
 */
import { newKeyPair } from "../helpers/keys.js";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { test } from "node:test";
import { evaluate, type IssuerFacts, PROFILES, type ProfileName } from "../../policy/index.js";
import { type SignatureAlgorithm } from "../../ca/keys/signer.js";
import { encodeTbsCertificate } from "../../ca/x509/certificate.js";
import { TbsEncoder, encodeName } from "../../ca/x509/tbs-encoder.js";
import { randomSerial } from "../../ca/x509/serial.js";
import { sequence } from "../../ca/x509/der.js";

const REG_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:";
const ALNUM = REG_ID_CHARS.slice(0, 62);
const pick = (s: string) => s[randomInt(s.length)]!;

function randomRegistrationId(): string {
  const len = randomInt(1, 65);
  if (len === 1) return pick(ALNUM);
  let id = pick(ALNUM);
  for (let i = 0; i < len - 2; i++) id += pick(REG_ID_CHARS);
  return id + pick(ALNUM);
}

function randomSignerName(): string {
  const chars = "abcXYZ019 ._@()/:,'+-äéß";
  let s = pick("abcXYZ019");
  for (let i = 0, n = randomInt(0, 40); i < n; i++) s += pick(chars);
  return s;
}

const keys = {
  p256: newKeyPair("ec", { namedCurve: "P-256" }),
  p384: newKeyPair("ec", { namedCurve: "P-384" }),
  rsa2048: newKeyPair("rsa", { modulusLength: 2048 }),
};
const spki = (k: keyof typeof keys) => new Uint8Array(keys[k].publicKey.export({ format: "der", type: "spki" }));
const describe = (k: keyof typeof keys) => (k === "rsa2048" ? ({ type: "rsa", bits: 2048 } as const) : ({ type: "ec", curve: k === "p256" ? "P-256" : "P-384" } as const));

const ALGORITHMS: readonly SignatureAlgorithm[] = ["ecdsa-p256-sha256", "ecdsa-p384-sha384", "rsa-pkcs1-sha256"];

test("fast TBS encoder == @peculiar/x509 general path, byte for byte, over 600 random inputs", async () => {
  const caKeys = { "ecdsa-p256-sha256": spki("p256"), "ecdsa-p384-sha384": spki("p384"), "rsa-pkcs1-sha256": spki("rsa2048") } as const;
  let compared = 0;
  let withSan = 0;
  for (let i = 0; i < 600; i++) {
    const algorithm = ALGORITHMS[i % 3]!;
    const profile: ProfileName = (["device", "firmware-signer", "device-ca", "ocsp-responder", "dps-verification"] as const)[randomInt(5)]!;
    const caProfile = profile === "device" || profile === "dps-verification" ? "device-ca" : profile === "firmware-signer" ? "firmware-ca" : "root-ca";
    const org = randomSignerName().slice(0, 20);
    const issuerName = encodeName({ commonName: `${org} issuing CA`, organization: org });
    // Dates from 1990 to 2080: UTCTime and GeneralizedTime both exercised.
    const now = new Date(Date.UTC(1990 + randomInt(90), randomInt(12), 1 + randomInt(28), randomInt(24), randomInt(60), randomInt(60), randomInt(1000)));
    const issuer: IssuerFacts = {
      name: randomInt(2) ? "device" : "plant-7",
      profile: caProfile,
      notBefore: new Date(now.getTime() - 1000),
      notAfter: new Date(now.getTime() + randomInt(1, 40 * 365) * 86_400_000),
      organization: org,
      baseUrl: randomInt(2) ? "http://127.0.0.1:8080" : `https://pki-${randomBytes(3).toString("hex")}.example.test/a/b`,
      // Device subjectAltName: the default URN form, another URI form, or none (a home made before it).
      ...[{ deviceUriTemplate: `urn:${org.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").padEnd(2, "x")}:device:{registration-id}` }, { deviceUriTemplate: `https://devices-${randomInt(100)}.example.test/id/{registration-id}?v=1` }, {}][randomInt(3)]!,
    };
    const keyKind = (["p256", "p384", "rsa2048"] as const)[randomInt(profile === "firmware-signer" || profile === "ocsp-responder" ? 2 : 3)]!;
    const cn = profile === "device" ? randomRegistrationId() : profile === "firmware-signer" || profile === "ocsp-responder" ? randomSignerName() : profile === "dps-verification" ? randomBytes(16).toString("hex").toUpperCase() : `c${randomInt(1000)}`;
    const decision = evaluate({ commonName: cn, publicKey: describe(keyKind), validityDays: randomInt(1, PROFILES[profile].validityDays.max + 1) }, PROFILES[profile], issuer, now);
    if (!decision.ok) continue; // e.g. a CA CN over 64 characters: nothing to encode
    const input = { serial: randomSerial(), template: decision.template, subjectPublicKey: spki(keyKind), issuerName, issuerPublicKey: caKeys[algorithm] };
    const general = await encodeTbsCertificate(input, { algorithm });
    const fast = new TbsEncoder({ algorithm, issuerName, issuerPublicKey: caKeys[algorithm] }).encode(input.serial, input.template, input.subjectPublicKey);
    assert.equal(Buffer.from(fast).toString("hex"), Buffer.from(general).toString("hex"), `input ${i}: ${profile} ${cn} ${now.toISOString()} ${algorithm}`);
    compared++;
    if (decision.template.subjectAltNameUris?.length) withSan++;
  }
  assert.ok(compared > 450, `only ${compared} inputs were comparable`);
  assert.ok(withSan > 50, `only ${withSan} inputs had a subjectAltName`);
});

test("the encoder reuses one instance across certificates of a CA", async () => {
  const issuerName = sequence();
  const enc = new TbsEncoder({ algorithm: "ecdsa-p256-sha256", issuerName, issuerPublicKey: spki("p256") });
  const issuer: IssuerFacts = { name: "device", profile: "device-ca", notBefore: new Date(0), notAfter: new Date("2040-01-01"), organization: "Acme", baseUrl: "http://x.test" };
  for (const cn of ["a", "dev_1", "dev-2"]) {
    const d = evaluate({ commonName: cn, publicKey: describe("p256") }, PROFILES.device, issuer, new Date("2026-03-01T00:00:00Z"));
    assert.ok(d.ok);
    const serial = randomSerial();
    const general = await encodeTbsCertificate({ serial, template: d.template, subjectPublicKey: spki("p256"), issuerName, issuerPublicKey: spki("p256") }, { algorithm: "ecdsa-p256-sha256" });
    assert.deepEqual(enc.encode(serial, d.template, spki("p256")), general);
  }
});

/** A random host: a DNS name, an IPv4 literal, or an IPv6 literal in one of its text forms. */
function randomHost(): string {
  const hex = () => randomInt(0x10000).toString(16);
  switch (randomInt(5)) {
    case 0:
      return Array.from({ length: randomInt(1, 5) }, () => `l${randomBytes(randomInt(1, 8)).toString("hex")}`).join(".");
    case 1:
      return Array.from({ length: 4 }, () => String(randomInt(256))).join(".");
    case 2:
      return Array.from({ length: 8 }, hex).join(":");
    case 3: {
      const head = Array.from({ length: randomInt(0, 4) }, hex);
      const tail = Array.from({ length: randomInt(0, 3) }, hex);
      return `${head.join(":")}::${tail.join(":")}`;
    }
    default:
      return `::ffff:${Array.from({ length: 4 }, () => String(randomInt(256))).join(".")}`;
  }
}

test("fast TBS encoder == @peculiar/x509 for station and tls-server certificates (dNSName and iPAddress SANs), 200 random inputs", async () => {
  let withHosts = 0;
  for (let i = 0; i < 200; i++) {
    const algorithm = ALGORITHMS[i % 3]!;
    const caKey = algorithm === "rsa-pkcs1-sha256" ? spki("rsa2048") : algorithm === "ecdsa-p384-sha384" ? spki("p384") : spki("p256");
    const profile: ProfileName = i % 2 ? "tls-server" : "station";
    const issuerName = encodeName({ commonName: "Acme device CA", organization: "Acme" });
    const now = new Date(Date.UTC(2000 + randomInt(60), randomInt(12), 1 + randomInt(28)));
    const issuer: IssuerFacts = { name: "device", profile: "device-ca", notBefore: new Date(now.getTime() - 1000), notAfter: new Date(now.getTime() + 3000 * 86_400_000), organization: "Acme", baseUrl: "http://127.0.0.1:8080" };
    const hosts = [...new Set(Array.from({ length: randomInt(1, 17) }, randomHost))];
    const keyKind = (["p256", "p384"] as const)[randomInt(2)]!;
    const request = profile === "tls-server" ? { commonName: hosts[0]!, hosts } : { commonName: `line-${randomInt(1000)}` };
    const decision = evaluate({ ...request, publicKey: describe(keyKind) }, PROFILES[profile], issuer, now);
    assert.ok(decision.ok, `input ${i}: ${JSON.stringify(request)} ${decision.ok ? "" : JSON.stringify(decision.violations)}`);
    const input = { serial: randomSerial(), template: decision.template, subjectPublicKey: spki(keyKind), issuerName, issuerPublicKey: caKey };
    const general = await encodeTbsCertificate(input, { algorithm });
    const fast = new TbsEncoder({ algorithm, issuerName, issuerPublicKey: caKey }).encode(input.serial, input.template, input.subjectPublicKey);
    assert.equal(Buffer.from(fast).toString("hex"), Buffer.from(general).toString("hex"), `input ${i}: ${profile} ${hosts.join(" ")}`);
    if (decision.template.subjectAltNameHosts?.length) withHosts++;
  }
  assert.equal(withHosts, 100);
});
