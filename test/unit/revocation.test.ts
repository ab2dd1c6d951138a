/**
 * Revocation through the library: RFC 5280 §5.3.1 reason codes and the hold rules, idempotence,
 * mass revocation selecting exactly the right certificates, CRLs (RFC 5280 §5) as issueCrl signs
 * them, and the CRL codec on its own (100,000 entries, empty lists, high-bit serials, tampering).
 */
import { newKeyPair } from "../helpers/keys.js";
import assert from "node:assert/strict";
import { sign as nodeSign, X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  type AuditEntry,
  createCa,
  createCsr,
  generateDeviceCertificate,
  type Home,
  type IssuedCertificate,
  issueCrl,
  issueSignerCertificate,
  listCertificates,
  type ListedCertificate,
  type MassSelector,
  parseCrl,
  type ParsedCrl,
  planMassRevocation,
  readAuditLog,
  type RevocationReason,
  revokeCertificate,
  revokeMass,
  showCertificate,
  verifyAuditLog,
  verifyCrlSignature,
} from "../../ca/index.js";
import { type CrlEntryInput, encodeTbsCertList } from "../../ca/revocation/crl-codec.js";
import { REVOCATION_REASONS } from "../../policy/index.js";
import { FIXED_NOW, makeHome, reopen, tempDir } from "../helpers/pki.js";
import { kids, type Node, tlvAt } from "../helpers/independent-der.js";

const DAY = 86_400_000;

// ---------------------------------------------------------------------------------------------
// A tiny, independent DER reader and writer (the library's own is what is under test).


const bytes = (b: Uint8Array, t: Node) => Buffer.from(b.subarray(t.start, t.end));
const value = (b: Uint8Array, t: Node) => Buffer.from(b.subarray(t.contentStart, t.end));

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

function der(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts);
  return new Uint8Array(Buffer.concat([Buffer.from([tag, ...derLength(body.length)]), body]));
}

/** The subject Name (DER), SubjectPublicKeyInfo (DER) and subjectKeyIdentifier of a certificate. */
function certificateParts(certDer: Uint8Array): { subject: Buffer; spki: Buffer; ski: Buffer } {
  const tbs = kids(certDer, tlvAt(certDer, 0))[0]!;
  const f = kids(certDer, tbs);
  const o = f[0]!.tag === 0xa0 ? 1 : 0;
  const subject = bytes(certDer, f[4 + o]!);
  const spki = bytes(certDer, f[5 + o]!);
  const extsWrapper = f.find((t) => t.tag === 0xa3);
  assert.ok(extsWrapper, "the CA certificate has extensions");
  for (const ext of kids(certDer, kids(certDer, extsWrapper)[0]!)) {
    const [id, ...rest] = kids(certDer, ext);
    if (value(certDer, id!).equals(Buffer.from([0x55, 0x1d, 0x0e]))) {
      const octet = value(certDer, rest.at(-1)!);
      return { subject, spki, ski: value(octet, tlvAt(octet, 0)) };
    }
  }
  throw new Error("no subjectKeyIdentifier");
}

function caDer(home: Home, name: string): Uint8Array {
  return new Uint8Array(new X509Certificate(home.state.cas[name]!.certificate).raw);
}

async function auditEntries(home: Home): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of readAuditLog(home)) out.push(e);
  return out;
}

async function listAll(home: Home, filter: Parameters<typeof listCertificates>[1] = {}): Promise<ListedCertificate[]> {
  const out: ListedCertificate[] = [];
  for await (const r of listCertificates(home, filter)) out.push(r);
  return out;
}

async function revocationLog(home: Home): Promise<string> {
  return JSON.stringify([...(await home.inventory.revocations()).entries()]);
}

const sorted = (xs: readonly string[]) => [...xs].sort();

function entryOf(crl: ParsedCrl, serial: string) {
  return crl.entries.find((e) => e.serial === serial);
}

/** A clock the test moves by hand. */
function movableClock(start: Date): { clock: () => Date; set: (d: Date | string) => void } {
  let now = start.getTime();
  return { clock: () => new Date(now), set: (d) => (now = new Date(d).getTime()) };
}

// ---------------------------------------------------------------------------------------------

describe("revoking one certificate (RFC 5280 §5.3.1 reason codes, holds)", { timeout: 60_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let home: Home;
  let n = 0;
  const device = () => generateDeviceCertificate(home, `dev-r-${String(n++).padStart(4, "0")}`);

  before(async () => {
    t = tempDir("trustline-revoke-unit-");
    home = await makeHome(t.dir);
  });
  after(() => t.cleanup());

  test("RFC 5280 §5.3.1: every reason name is accepted on a device certificate except cACompromise, aACompromise and removeFromCRL (not on hold)", async () => {
    const allowed: RevocationReason[] = ["unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "certificateHold", "privilegeWithdrawn"];
    const refused: Record<string, RegExp> = {
      cACompromise: /^cACompromise is for CA certificates; use keyCompromise for an end-entity key$/,
      aACompromise: /^aACompromise concerns attribute authorities, which this PKI does not have$/,
      removeFromCRL: /^removeFromCRL releases a certificate on hold; this certificate is not on hold$/,
    };
    assert.deepEqual(sorted([...allowed, ...Object.keys(refused)]), sorted(Object.keys(REVOCATION_REASONS)), "every RFC 5280 reason is covered");
    const serials = new Map<RevocationReason, string>();
    for (const reason of allowed) {
      const dev = await device();
      const r = await revokeCertificate(home, dev.record.serial, { reason });
      assert.deepEqual(r, { serial: dev.record.serial, ca: "device", subject: dev.record.subject, reason, revokedAt: FIXED_NOW.toISOString(), alreadyRevoked: false });
      assert.equal((await showCertificate(home, { serial: dev.record.serial })).status, reason === "certificateHold" ? "on-hold" : "revoked");
      serials.set(reason, dev.record.serial);
    }
    for (const [reason, message] of Object.entries(refused)) {
      const dev = await device();
      const auditBefore = (await auditEntries(home)).length;
      await assert.rejects(revokeCertificate(home, dev.record.serial, { reason: reason as RevocationReason }), (e: any) => {
        assert.equal(e.code, "POLICY_DENIED");
        assert.match(e.message, message);
        assert.deepEqual(e.details, { serial: dev.record.serial, reason });
        return true;
      });
      assert.equal((await showCertificate(home, { serial: dev.record.serial })).status, "valid", `${reason}: status unchanged`);
      assert.equal((await auditEntries(home)).length, auditBefore, `${reason}: nothing audited`);
    }
    // On the CRL each reason carries its RFC 5280 code; unspecified (0) carries no extension (§5.3.1 SHOULD).
    const crl = parseCrl((await issueCrl(home, "device")).der);
    for (const [reason, serial] of serials) {
      const entry = entryOf(crl, serial);
      assert.ok(entry, `${reason} is on the CRL`);
      assert.deepEqual(entry, {
        serial,
        revokedAt: FIXED_NOW,
        ...(reason === "unspecified" ? {} : { reasonCode: REVOCATION_REASONS[reason] }),
      });
    }
  });

  test("a reason name outside RFC 5280 §5.3.1 is refused (USAGE) by revokeCertificate and revokeMass, nothing recorded", async () => {
    const dev = await generateDeviceCertificate(home, "dev-unknown-reason", { batch: "UNKNOWN-REASON" });
    const auditBefore = (await auditEntries(home)).length;
    const revokedBefore = await revocationLog(home);
    for (const reason of ["bogus", "KeyCompromise", "toString"]) {
      await assert.rejects(revokeCertificate(home, dev.record.serial, { reason: reason as RevocationReason }), { code: "USAGE" }, `revokeCertificate accepted reason "${reason}"`);
      await assert.rejects(revokeMass(home, { batch: "UNKNOWN-REASON" }, { reason: reason as RevocationReason }), { code: "USAGE" }, `revokeMass accepted reason "${reason}"`);
    }
    assert.equal((await showCertificate(home, { serial: dev.record.serial })).status, "valid");
    assert.equal((await auditEntries(home)).length, auditBefore);
    assert.equal(await revocationLog(home), revokedBefore);
  });

  test("RFC 5280 §5.3.1 cACompromise is accepted on a CA certificate and lands on the root's CRL with code 2", async () => {
    const spare = await createCa(home, { name: "spare", profile: "device-ca", parent: "root" });
    const r = await revokeCertificate(home, spare.serial, { reason: "cACompromise" });
    assert.deepEqual([r.ca, r.reason, r.alreadyRevoked], ["root", "cACompromise", false]);
    const crl = parseCrl((await issueCrl(home, "root")).der);
    assert.deepEqual(crl.entries, [{ serial: spare.serial, revokedAt: FIXED_NOW, reasonCode: 2 }]);
    // ...and never aACompromise, not even on a CA.
    await assert.rejects(revokeCertificate(home, home.state.cas.firmware!.serial, { reason: "aACompromise" }), { code: "POLICY_DENIED" });
  });

  test("certificateHold: allowed on a device certificate, refused (POLICY_DENIED) on a firmware signer, nothing recorded", async () => {
    const key = newKeyPair("ec", { namedCurve: "P-256" }).privateKey;
    const signer = await issueSignerCertificate(home, createCsr(key, "whatever"), "ci-hold-test");
    const auditBefore = (await auditEntries(home)).length;
    const revokedBefore = await revocationLog(home);
    await assert.rejects(revokeCertificate(home, signer.record.serial, { reason: "certificateHold" }), (e: any) => {
      assert.equal(e.code, "POLICY_DENIED");
      assert.equal(e.message, "Firmware signer certificates cannot be put on hold (the profile does not allow suspension); revoke them instead");
      return true;
    });
    assert.equal((await showCertificate(home, { serial: signer.record.serial })).status, "valid");
    assert.equal((await auditEntries(home)).length, auditBefore);
    assert.equal(await revocationLog(home), revokedBefore);
    // A firmware signer can be revoked for real.
    const r = await revokeCertificate(home, signer.record.serial, { reason: "keyCompromise" });
    assert.deepEqual([r.ca, r.reason, r.alreadyRevoked], ["firmware", "keyCompromise", false]);
    const dev = await device();
    assert.equal((await revokeCertificate(home, dev.record.serial, { reason: "certificateHold" })).reason, "certificateHold");
    assert.equal((await showCertificate(home, { serial: dev.record.serial })).status, "on-hold");
  });

  test("removeFromCRL releases a hold: status valid again, absent from the next CRL, audited once", async () => {
    const dev = await device();
    await revokeCertificate(home, dev.record.serial, { reason: "certificateHold" });
    const held = parseCrl((await issueCrl(home, "device")).der);
    assert.deepEqual(entryOf(held, dev.record.serial), { serial: dev.record.serial, revokedAt: FIXED_NOW, reasonCode: 6 });
    const later = movableClock(new Date(FIXED_NOW.getTime() + 3_600_000));
    const h2 = await reopen(home, { clock: later.clock, operator: "bob", station: "desk" });
    const r = await revokeCertificate(h2, dev.record.serial.toUpperCase(), { reason: "removeFromCRL" });
    assert.deepEqual(r, { serial: dev.record.serial, ca: "device", subject: dev.record.subject, reason: "removeFromCRL", revokedAt: "2026-03-01T13:00:00.000Z", alreadyRevoked: false });
    const shown = await showCertificate(h2, { serial: dev.record.serial });
    assert.equal(shown.status, "valid");
    assert.equal(shown.revocation, undefined);
    assert.deepEqual((await listAll(h2)).find((c) => c.serial === dev.record.serial)?.status, "valid");
    const next = parseCrl((await issueCrl(h2, "device")).der);
    assert.equal(next.crlNumber, held.crlNumber! + 1n);
    assert.equal(entryOf(next, dev.record.serial), undefined, "released: not on the next CRL");
    assert.equal(next.entries.length, held.entries.length - 1);
    const audit = (await auditEntries(h2)).filter((e) => e.action === "certificate.revoke" && e.serial === dev.record.serial);
    assert.deepEqual(audit.map((e) => [e.reason, e.operator, e.station]), [["certificateHold", "alice", "line-1"], ["removeFromCRL", "bob", "desk"]]);
    // Released, it is an ordinary valid certificate: it can be held again.
    assert.equal((await revokeCertificate(h2, dev.record.serial, { reason: "certificateHold" })).alreadyRevoked, false);
  });

  test("removeFromCRL is refused (POLICY_DENIED) on a certificate that is not on hold: valid or revoked", async () => {
    const valid = await device();
    const revoked = await device();
    await revokeCertificate(home, revoked.record.serial, { reason: "keyCompromise" });
    const auditBefore = (await auditEntries(home)).length;
    for (const dev of [valid, revoked]) {
      await assert.rejects(revokeCertificate(home, dev.record.serial, { reason: "removeFromCRL" }), (e: any) => {
        assert.equal(e.code, "POLICY_DENIED");
        assert.equal(e.message, "removeFromCRL releases a certificate on hold; this certificate is not on hold");
        return true;
      });
    }
    assert.equal((await showCertificate(home, { serial: valid.record.serial })).status, "valid");
    assert.equal((await showCertificate(home, { serial: revoked.record.serial })).status, "revoked");
    assert.equal((await auditEntries(home)).length, auditBefore);
  });

  test("a hold can be turned into a revocation (keyCompromise), which then cannot be released", async () => {
    const dev = await device();
    await revokeCertificate(home, dev.record.serial, { reason: "certificateHold" });
    const later = movableClock(new Date("2026-03-02T09:30:15.250Z"));
    const h2 = await reopen(home, { clock: later.clock });
    const r = await revokeCertificate(h2, dev.record.serial, { reason: "keyCompromise", invalidityDate: new Date("2026-03-01T18:00:00.999Z") });
    assert.deepEqual(r, {
      serial: dev.record.serial,
      ca: "device",
      subject: dev.record.subject,
      reason: "keyCompromise",
      revokedAt: "2026-03-02T09:30:15.000Z",
      invalidityDate: "2026-03-01T18:00:00.000Z",
      alreadyRevoked: false,
    });
    const shown = await showCertificate(h2, { serial: dev.record.serial });
    assert.equal(shown.status, "revoked");
    assert.equal(shown.revocation?.reason, "keyCompromise");
    const crl = parseCrl((await issueCrl(h2, "device")).der);
    assert.deepEqual(entryOf(crl, dev.record.serial), {
      serial: dev.record.serial,
      revokedAt: new Date("2026-03-02T09:30:15.000Z"),
      reasonCode: 1,
      invalidityDate: new Date("2026-03-01T18:00:00.000Z"),
    });
    await assert.rejects(revokeCertificate(h2, dev.record.serial, { reason: "removeFromCRL" }), { code: "POLICY_DENIED" });
    // Holding a held certificate again is idempotent too.
    const other = await device();
    await revokeCertificate(home, other.record.serial, { reason: "certificateHold" });
    const again = await revokeCertificate(h2, other.record.serial, { reason: "certificateHold" });
    assert.deepEqual([again.alreadyRevoked, again.reason, again.revokedAt], [true, "certificateHold", FIXED_NOW.toISOString()]);
  });

  test("revoking twice is idempotent: alreadyRevoked, the first revocation kept, exactly one certificate.revoke entry", async () => {
    const dev = await device();
    const first = await revokeCertificate(home, dev.record.serial, { reason: "keyCompromise" });
    const later = movableClock(new Date("2026-04-01T00:00:00.000Z"));
    const h2 = await reopen(home, { clock: later.clock });
    const second = await revokeCertificate(h2, dev.record.serial, { reason: "superseded" });
    assert.deepEqual(second, { ...first, alreadyRevoked: true });
    const third = await revokeCertificate(h2, dev.record.serial, { reason: "keyCompromise" });
    assert.deepEqual(third, { ...first, alreadyRevoked: true });
    const entries = (await auditEntries(h2)).filter((e) => e.action === "certificate.revoke" && e.serial === dev.record.serial);
    assert.equal(entries.length, 1);
    assert.deepEqual([entries[0]!.reason, entries[0]!.outcome, entries[0]!.ca, entries[0]!.subject, entries[0]!.profile], ["keyCompromise", "ok", "device", dev.record.commonName, "device"]);
    assert.equal((await h2.inventory.revocations("device")).get(dev.record.serial)?.reason, "keyCompromise");
  });

  test("an unknown serial → NOT_FOUND, nothing recorded", async () => {
    const auditBefore = await auditEntries(home);
    const revokedBefore = await revocationLog(home);
    const unknown = "7fffffffffffffffffffffffffffffffffff0001";
    await assert.rejects(revokeCertificate(home, unknown, { reason: "keyCompromise" }), (e: any) => {
      assert.equal(e.code, "NOT_FOUND");
      assert.match(e.message, /^no certificate with serial 7fffffffffffffffffffffffffffffffffff0001 was issued by this home; nothing was revoked$/);
      assert.deepEqual(e.details, { serial: unknown });
      return true;
    });
    assert.deepEqual(await auditEntries(home), auditBefore);
    assert.equal(await revocationLog(home), revokedBefore);
  });

  test("RFC 5280 §5.3.2 invalidity date in the future or before notBefore → USAGE, nothing recorded", async () => {
    const dev = await device();
    const auditBefore = (await auditEntries(home)).length;
    const revokedBefore = await revocationLog(home);
    const future = new Date(FIXED_NOW.getTime() + 1000);
    await assert.rejects(revokeCertificate(home, dev.record.serial, { reason: "keyCompromise", invalidityDate: future }), (e: any) => {
      assert.equal(e.code, "USAGE");
      assert.equal(e.message, "the invalidity date 2026-03-01T12:00:01.000Z is in the future");
      return true;
    });
    const early = new Date(Date.parse(dev.record.notBefore) - 1000);
    await assert.rejects(revokeCertificate(home, dev.record.serial, { reason: "keyCompromise", invalidityDate: early }), (e: any) => {
      assert.equal(e.code, "USAGE");
      assert.equal(e.message, `the invalidity date ${early.toISOString()} is before the certificate was valid (${dev.record.notBefore})`);
      return true;
    });
    await assert.rejects(revokeCertificate(home, dev.record.serial, { reason: "keyCompromise", invalidityDate: new Date("nonsense") }), { code: "USAGE" });
    assert.equal((await auditEntries(home)).length, auditBefore);
    assert.equal(await revocationLog(home), revokedBefore);
    // The bounds themselves are accepted: notBefore == invalidity date == now.
    const r = await revokeCertificate(home, dev.record.serial, { reason: "keyCompromise", invalidityDate: new Date(dev.record.notBefore) });
    assert.equal(r.invalidityDate, dev.record.notBefore);
  });

  test("serials are accepted with colons and in upper case (as openssl prints them)", async () => {
    const dev = await device();
    const printed = dev.record.serial.toUpperCase().match(/../g)!.join(":");
    assert.notEqual(printed, dev.record.serial);
    const r = await revokeCertificate(home, printed, { reason: "superseded" });
    assert.deepEqual([r.serial, r.reason, r.alreadyRevoked], [dev.record.serial, "superseded", false]);
    const again = await revokeCertificate(home, ` 0x${dev.record.serial.toUpperCase()} `, { reason: "superseded" });
    assert.deepEqual([again.serial, again.alreadyRevoked], [dev.record.serial, true]);
    assert.equal((await showCertificate(home, { serial: printed })).status, "revoked");
  });
});

// ---------------------------------------------------------------------------------------------

describe("mass revocation: exactly the certificates of a batch, a station window or an operator", { timeout: 60_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let home: Home;
  const T1 = "2026-03-02T08:00:00.000Z";
  const FROM = "2026-03-02T09:00:00.000Z";
  const TO = "2026-03-02T10:00:00.000Z";
  /** Certificates by role in the scenario. */
  const s: Record<string, string> = {};
  let caAtLine7: string;

  before(async () => {
    t = tempDir("trustline-mass-unit-");
    home = await makeHome(t.dir);
    const clock = movableClock(new Date(T1));
    const bob7 = await reopen(home, { clock: clock.clock, operator: "bob", station: "line-7" });
    const carol7 = await reopen(home, { clock: clock.clock, operator: "carol", station: "line-7" });
    const carol8 = await reopen(home, { clock: clock.clock, operator: "carol", station: "line-8" });
    const bob8 = await reopen(home, { clock: clock.clock, operator: "bob", station: "line-8" });
    const at = async (time: string, h: Home, id: string, batch?: string): Promise<IssuedCertificate> => {
      clock.set(time);
      const issued = await generateDeviceCertificate(h, id, batch ? { batch } : {});
      assert.equal(issued.record.issuedAt, time);
      s[id] = issued.record.serial;
      return issued;
    };
    await at(T1, bob7, "before-window", "B1"); //                             line-7 bob, before the window
    await at(FROM, bob7, "at-from", "B1"); //                                 == from: included
    await at("2026-03-02T09:10:00.000Z", carol8, "line8-carol", "B1"); //     other station
    await at("2026-03-02T09:15:00.000Z", bob7, "already-revoked", "B2");
    await at("2026-03-02T09:20:00.000Z", bob8, "line8-bob", "B3");
    await at("2026-03-02T09:25:00.000Z", bob7, "held", "B2");
    await at("2026-03-02T09:30:00.000Z", bob7, "mid-window", "B2");
    await at("2026-03-02T09:59:59.999Z", carol7, "just-before-to"); //        no batch
    await at(TO, carol7, "at-to", "B2"); //                                   == to: excluded
    await at("2026-03-02T11:00:00.000Z", bob7, "after-window", "B1");
    // A firmware signer issued at line-7 in the window: an end entity, so it is included.
    clock.set("2026-03-02T09:40:00.000Z");
    const key = newKeyPair("ec", { namedCurve: "P-256" }).privateKey;
    const signer = await issueSignerCertificate(bob7, createCsr(key, "x"), "line-7-signing-station", { batch: "B2" });
    s["signer"] = signer.record.serial;
    // A CA certificate created at line-7 in the window: never part of a mass revocation.
    clock.set("2026-03-02T09:45:00.000Z");
    caAtLine7 = (await createCa(bob7, { name: "line7-ca", profile: "device-ca", parent: "root" })).serial;
    clock.set("2026-03-02T09:50:00.000Z");
    await revokeCertificate(bob7, s["already-revoked"]!, { reason: "keyCompromise" });
    await revokeCertificate(bob7, s["held"]!, { reason: "certificateHold" });
    const line7 = await listAll(home, { station: "line-7", issuedFrom: FROM, issuedTo: TO });
    assert.ok(line7.some((c) => c.serial === caAtLine7 && c.profile === "device-ca"), "the CA certificate is in the station's window");
  });
  after(() => t.cleanup());

  const plan = async (selector: MassSelector) => sorted((await planMassRevocation(home, selector)).serials);
  const roles = (...names: string[]) => sorted(names.map((n) => s[n]!));

  test("by batch: every end entity of batch B1, at any station, by any operator", async () => {
    assert.deepEqual(await plan({ batch: "B1" }), roles("before-window", "at-from", "line8-carol", "after-window"));
    // B2: the hold is included (it becomes a revocation), the revoked one and the CA are not; the signer is.
    assert.deepEqual(await plan({ batch: "B2" }), roles("held", "mid-window", "at-to", "signer"));
    assert.deepEqual(await plan({ batch: "NO-SUCH-BATCH" }), []);
  });

  test("by station within [from, to): issuedAt == from included, == to excluded; firmware signer in, CA and revoked out", async () => {
    assert.deepEqual(await plan({ station: "line-7", from: FROM, to: TO }), roles("at-from", "held", "mid-window", "just-before-to", "signer"));
    // Times in another zone denote the same instants.
    assert.deepEqual(await plan({ station: "line-7", from: "2026-03-02T10:00:00+01:00", to: "2026-03-02T11:00:00+01:00" }), roles("at-from", "held", "mid-window", "just-before-to", "signer"));
    // Open-ended on either side.
    assert.deepEqual(await plan({ station: "line-7", to: FROM }), roles("before-window"));
    assert.deepEqual(await plan({ station: "line-7", from: TO }), roles("at-to", "after-window"));
    assert.deepEqual(await plan({ station: "line-7" }), roles("before-window", "at-from", "held", "mid-window", "just-before-to", "at-to", "after-window", "signer"));
    assert.deepEqual(await plan({ station: "line-8" }), roles("line8-carol", "line8-bob"));
  });

  test("by operator; CA certificates are never included (the hierarchy made by alice selects nothing)", async () => {
    assert.deepEqual(await plan({ operator: "carol" }), roles("line8-carol", "just-before-to", "at-to"));
    assert.deepEqual(await plan({ operator: "carol", station: "line-7" }), roles("just-before-to", "at-to"));
    assert.deepEqual(await plan({ operator: "bob", batch: "B1" }), roles("before-window", "at-from", "after-window"));
    const aliceCerts = await listAll(home, { operator: "alice" });
    assert.deepEqual(sorted(aliceCerts.map((c) => c.profile)), ["audit-signer", "device-ca", "firmware-ca", "root-ca"]);
    assert.deepEqual(await plan({ operator: "alice" }), []);
    const bob = await plan({ operator: "bob" });
    assert.equal(bob.includes(caAtLine7), false);
    assert.equal(bob.includes(s["already-revoked"]!), false);
  });

  test("the plan's sample names who issued what, where and when", async () => {
    const p = await planMassRevocation(home, { station: "line-7", from: FROM, to: TO });
    assert.equal(p.sample.length, 5);
    const mid = p.sample.find((x) => x.serial === s["mid-window"]);
    assert.deepEqual(mid, { serial: s["mid-window"], ca: "device", subject: "CN=mid-window", batch: "B2", station: "line-7", operator: "bob", issuedAt: "2026-03-02T09:30:00.000Z" });
    assert.deepEqual(p.selector, { station: "line-7", from: FROM, to: TO });
  });

  test("selectors that select nothing sensible are refused (USAGE)", async () => {
    await assert.rejects(planMassRevocation(home, {}), { code: "USAGE" });
    await assert.rejects(planMassRevocation(home, { from: FROM, to: TO }), { code: "USAGE" });
    await assert.rejects(planMassRevocation(home, { station: "line-7", from: TO, to: FROM }), { code: "USAGE", message: "--from must be before --to" });
    await assert.rejects(planMassRevocation(home, { station: "line-7", from: TO, to: TO }), { code: "USAGE" });
    await assert.rejects(planMassRevocation(home, { station: "line-7", from: "yesterday" }), { code: "USAGE" });
    await assert.rejects(revokeMass(home, { batch: "B1" }, { reason: "certificateHold" }), { code: "USAGE" });
    await assert.rejects(revokeMass(home, { batch: "B1" }, { reason: "removeFromCRL" }), { code: "USAGE" });
  });

  test("all or nothing: an invalidity date before one selected certificate's notBefore refuses the whole mass revocation (USAGE)", async () => {
    const audit = await auditEntries(home);
    const revoked = await revocationLog(home);
    const incident = await reopen(home, { clock: () => new Date("2026-03-03T07:00:00Z") });
    await assert.rejects(revokeMass(incident, { station: "line-7", from: FROM, to: TO }, { reason: "keyCompromise", invalidityDate: new Date("2026-03-02T09:20:00Z") }), (e: any) => {
      assert.equal(e.code, "USAGE");
      assert.match(e.message, /^the invalidity date 2026-03-02T09:20:00\.000Z is before the certificate was valid \(2026-03-02T09:(25|30|40|59):\d\d\.000Z\)$/);
      return true;
    });
    assert.deepEqual(await auditEntries(home), audit);
    assert.equal(await revocationLog(home), revoked);
  });

  test("planMassRevocation changes nothing: no revocation, no audit entry", async () => {
    const audit = await auditEntries(home);
    const revoked = await revocationLog(home);
    const statuses = JSON.stringify(await listAll(home));
    await planMassRevocation(home, { batch: "B1" });
    await planMassRevocation(home, { station: "line-7", from: FROM, to: TO });
    await planMassRevocation(home, { operator: "bob" });
    assert.deepEqual(await auditEntries(home), audit);
    assert.equal(await revocationLog(home), revoked);
    assert.equal(JSON.stringify(await listAll(home)), statuses);
  });

  test("revokeMass revokes exactly the station window: one certificate.revoke per certificate, one revocation.mass, audit log intact", async () => {
    const incident = await reopen(home, { clock: () => new Date("2026-03-03T07:00:00.500Z"), operator: "incident-lead", station: "hq" }); // enrols incident-lead first
    const auditBefore = (await auditEntries(home)).length;
    const expected = roles("at-from", "held", "mid-window", "just-before-to", "signer");
    const selector: MassSelector = { station: "line-7", from: FROM, to: TO };
    const result = await revokeMass(incident, selector, { reason: "keyCompromise", invalidityDate: new Date("2026-03-02T10:00:00Z") });
    assert.equal(result.revoked, 5);
    assert.equal(result.reason, "keyCompromise");
    assert.deepEqual(sorted(result.serials), expected);

    const all = await listAll(home);
    const revokedNow = sorted(all.filter((c) => c.status === "revoked").map((c) => c.serial));
    assert.deepEqual(revokedNow, sorted([...expected, s["already-revoked"]!]));
    assert.equal(all.filter((c) => c.status === "on-hold").length, 0, "the hold became a revocation");
    const revocations = await home.inventory.revocations();
    for (const serial of expected) {
      const e = revocations.get(serial)!;
      assert.deepEqual([e.reason, e.revokedAt, e.invalidityDate, e.operator, e.station], ["keyCompromise", "2026-03-03T07:00:00.000Z", "2026-03-02T10:00:00.000Z", "incident-lead", "hq"]);
    }
    assert.equal(revocations.get(s["already-revoked"]!)!.revokedAt, "2026-03-02T09:50:00.000Z", "an earlier revocation is not rewritten");

    const added = (await auditEntries(home)).slice(auditBefore);
    assert.equal(added.length, 6);
    const perCert = added.filter((e) => e.action === "certificate.revoke");
    assert.deepEqual(sorted(perCert.map((e) => e.serial!)), expected);
    for (const e of perCert) {
      assert.deepEqual([e.outcome, e.reason, e.operator, e.station, e.details], ["ok", "keyCompromise", "incident-lead", "hq", { invalidityDate: "2026-03-02T10:00:00.000Z", mass: true }]);
    }
    const mass = added.at(-1)!;
    assert.equal(mass.action, "revocation.mass");
    assert.deepEqual([mass.outcome, mass.reason, mass.operator, mass.station, mass.details], ["ok", "keyCompromise", "incident-lead", "hq", { selector, count: 5 }]);
    const verdict = await verifyAuditLog(home);
    assert.equal(verdict.intact, true, JSON.stringify(verdict));
    assert.equal(verdict.entries, auditBefore + 6);

    // The firmware signer is on the firmware CA's CRL, the devices on the device CA's.
    const fw = parseCrl((await issueCrl(incident, "firmware")).der);
    assert.deepEqual(fw.entries.map((e) => e.serial), [s["signer"]]);
    const dev = parseCrl((await issueCrl(incident, "device")).der);
    assert.deepEqual(sorted(dev.entries.map((e) => e.serial)), sorted([...expected.filter((x) => x !== s["signer"]), s["already-revoked"]!]));
  });

  test("a second mass revocation skips what is already revoked (batch B1 after the station window)", async () => {
    const auditBefore = (await auditEntries(home)).length;
    const result = await revokeMass(home, { batch: "B1" }, { reason: "superseded" });
    assert.deepEqual(sorted(result.serials), roles("before-window", "line8-carol", "after-window"));
    assert.equal((await home.inventory.revocations()).get(s["at-from"]!)!.reason, "keyCompromise", "not re-revoked as superseded");
    const added = (await auditEntries(home)).slice(auditBefore);
    assert.deepEqual(added.map((e) => e.action), ["certificate.revoke", "certificate.revoke", "certificate.revoke", "revocation.mass"]);
    // Nothing left: an empty mass revocation still records the operation, with count 0.
    const empty = await revokeMass(home, { batch: "B1" }, { reason: "superseded" });
    assert.deepEqual(empty, { revoked: 0, serials: [], reason: "superseded" });
    const last = (await auditEntries(home)).at(-1)!;
    assert.deepEqual([last.action, last.details], ["revocation.mass", { selector: { batch: "B1" }, count: 0 }]);
    assert.equal((await verifyAuditLog(home)).intact, true);
    // The CA created at line-7 was never revoked.
    assert.equal((await home.inventory.revocations()).has(caAtLine7), false);
    const later = await reopen(home, { clock: () => new Date("2026-03-04T00:00:00Z") });
    assert.equal((await showCertificate(later, { serial: caAtLine7 })).status, "valid");
  });
});

// ---------------------------------------------------------------------------------------------

describe("issueCrl (RFC 5280 §5)", { timeout: 60_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let home: Home;
  const clock = movableClock(FIXED_NOW);
  let keyCompromised: IssuedCertificate;
  let unspecified: IssuedCertificate;
  let held: IssuedCertificate;

  before(async () => {
    t = tempDir("trustline-crl-unit-");
    const base = await makeHome(t.dir);
    home = await reopen(base, { clock: clock.clock });
    keyCompromised = await generateDeviceCertificate(home, "crl-kc");
    unspecified = await generateDeviceCertificate(home, "crl-unspec");
    held = await generateDeviceCertificate(home, "crl-held");
    await generateDeviceCertificate(home, "crl-good");
    clock.set("2026-03-04T00:00:00.000Z");
    await revokeCertificate(home, keyCompromised.record.serial, { reason: "keyCompromise", invalidityDate: new Date("2026-03-02T06:07:08.900Z") });
    await revokeCertificate(home, unspecified.record.serial, { reason: "unspecified" });
    await revokeCertificate(home, held.record.serial, { reason: "certificateHold" });
  });
  after(() => t.cleanup());

  test("RFC 5280 §5.2.3 cRLNumber: 1, 2, 3 for each CA, independently, and audited", async () => {
    const numbers: [string, number][] = [];
    for (const ca of ["device", "device", "device", "root", "firmware", "device", "firmware", "root"]) {
      const crl = await issueCrl(home, ca);
      assert.equal(parseCrl(crl.der).crlNumber, BigInt(crl.crlNumber));
      numbers.push([ca, crl.crlNumber]);
    }
    assert.deepEqual(numbers, [["device", 1], ["device", 2], ["device", 3], ["root", 1], ["firmware", 1], ["device", 4], ["firmware", 2], ["root", 2]]);
    const audited = (await auditEntries(home)).filter((e) => e.action === "crl.issue").map((e) => [e.ca, (e.details as { crlNumber: number }).crlNumber]);
    assert.deepEqual(audited, numbers);
    // A fresh Home object on the same directory continues the sequence (it is in the state file).
    const other = await reopen(home, { clock: clock.clock });
    assert.equal((await issueCrl(other, "device")).crlNumber, 5);
    await assert.rejects(issueCrl(home, "nope"), { code: "NOT_FOUND" });
  });

  test("RFC 5280 §5.1: issuer, thisUpdate (to the second), nextUpdate (+7 days device, +90 root), AKI, entries", async () => {
    clock.set("2026-03-05T10:20:30.789Z");
    const issued = await issueCrl(home, "device");
    const crl = parseCrl(issued.der);
    const device = certificateParts(caDer(home, "device"));
    assert.ok(Buffer.from(crl.issuer).equals(device.subject), "issuer = the device CA's subject, byte for byte");
    assert.equal(crl.thisUpdate.toISOString(), "2026-03-05T10:20:30.000Z");
    assert.equal(crl.nextUpdate?.toISOString(), "2026-03-12T10:20:30.000Z");
    assert.deepEqual([issued.thisUpdate, issued.nextUpdate, issued.entries, issued.dropped, issued.ca], ["2026-03-05T10:20:30.000Z", "2026-03-12T10:20:30.000Z", 3, 0, "device"]);
    assert.ok(Buffer.from(crl.authorityKeyId!).equals(device.ski), "AKI keyIdentifier = the CA's SKI");
    assert.equal(crl.signatureAlgorithm, "1.2.840.10045.4.3.2");
    assert.deepEqual(crl.unknownExtensions, []);
    const revokedAt = new Date("2026-03-04T00:00:00.000Z");
    assert.deepEqual(
      [...crl.entries].sort((a, b) => a.serial.localeCompare(b.serial)),
      [
        { serial: keyCompromised.record.serial, revokedAt, reasonCode: 1, invalidityDate: new Date("2026-03-02T06:07:08.000Z") },
        { serial: unspecified.record.serial, revokedAt }, // §5.3.1: no reasonCode for unspecified
        { serial: held.record.serial, revokedAt, reasonCode: 6 },
      ].sort((a, b) => a.serial.localeCompare(b.serial)),
    );
    assert.equal(verifyCrlSignature(crl, device.spki), true);

    const rootIssued = await issueCrl(home, "root");
    const rootCrl = parseCrl(rootIssued.der);
    const root = certificateParts(caDer(home, "root"));
    assert.ok(Buffer.from(rootCrl.issuer).equals(root.subject));
    assert.ok(Buffer.from(rootCrl.authorityKeyId!).equals(root.ski));
    assert.equal(rootCrl.nextUpdate?.toISOString(), "2026-06-03T10:20:30.000Z", "+90 days");
    assert.deepEqual(rootCrl.entries, []);
    const fw = parseCrl((await issueCrl(home, "firmware")).der);
    assert.equal(fw.nextUpdate?.toISOString(), "2026-03-12T10:20:30.000Z", "+7 days for the firmware CA too");
  });

  test("the signature verifies with the issuing CA's SPKI and not with another CA's", async () => {
    const spki = (name: string) => certificateParts(caDer(home, name)).spki;
    const device = parseCrl((await issueCrl(home, "device")).der);
    const root = parseCrl((await issueCrl(home, "root")).der);
    assert.equal(verifyCrlSignature(device, spki("device")), true);
    assert.equal(verifyCrlSignature(device, spki("root")), false);
    assert.equal(verifyCrlSignature(device, spki("firmware")), false);
    assert.equal(verifyCrlSignature(root, spki("root")), true);
    assert.equal(verifyCrlSignature(root, spki("device")), false);
  });

  test("RFC 5280 §5: entries of certificates expired more than 365 days ago are dropped and counted", async () => {
    clock.set(FIXED_NOW);
    const short = await generateDeviceCertificate(home, "crl-short", { validityDays: 30 });
    const longer = await generateDeviceCertificate(home, "crl-longer", { validityDays: 32 });
    await revokeCertificate(home, short.record.serial, { reason: "keyCompromise" });
    await revokeCertificate(home, longer.record.serial, { reason: "superseded" });
    const shortEnd = Date.parse(short.record.notAfter);
    assert.equal(shortEnd, FIXED_NOW.getTime() + 30 * DAY);

    // Exactly 365 days after notAfter: still listed.
    clock.set(new Date(shortEnd + 365 * DAY));
    const edge = await issueCrl(home, "device");
    assert.equal(edge.dropped, 0);
    assert.ok(entryOf(parseCrl(edge.der), short.record.serial));

    // 366 days after: dropped; the one that expired two days later stays.
    clock.set(new Date(shortEnd + 366 * DAY));
    const late = await issueCrl(home, "device");
    const crl = parseCrl(late.der);
    assert.equal(late.dropped, 1);
    assert.equal(entryOf(crl, short.record.serial), undefined);
    assert.deepEqual(entryOf(crl, longer.record.serial), { serial: longer.record.serial, revokedAt: FIXED_NOW, reasonCode: 4 });
    assert.equal(late.entries, crl.entries.length);
    assert.equal(late.entries, edge.entries - 1);
    const audit = (await auditEntries(home)).filter((e) => e.action === "crl.issue").at(-1)!;
    assert.deepEqual(audit.details, { crlNumber: late.crlNumber, entries: late.entries, dropped: 1 });
    // The revocation itself is still known (status), only the CRL leaves it off.
    assert.equal((await showCertificate(home, { serial: short.record.serial })).status, "revoked");
  });
});

// ---------------------------------------------------------------------------------------------

describe("CRL codec on its own (encodeTbsCertList / parseCrl / verifyCrlSignature)", { timeout: 60_000 }, () => {
  const { privateKey, publicKey } = newKeyPair("ec", { namedCurve: "P-256" });
  const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  const ECDSA_SHA256 = Uint8Array.from([0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
  const ISSUER = der(0x30, der(0x31, der(0x30, Uint8Array.from([0x06, 0x03, 0x55, 0x04, 0x03]), der(0x0c, new Uint8Array(Buffer.from("Codec Test CA"))))));
  const AKI = Uint8Array.from(Buffer.from("00112233445566778899aabbccddeeff01234567", "hex"));
  const THIS = new Date("2026-03-01T12:00:00.000Z");
  const NEXT = new Date("2026-03-08T12:00:00.000Z");

  function signedCrl(entries: readonly CrlEntryInput[], crlNumber = 1n): Uint8Array {
    const tbs = encodeTbsCertList({ algorithmIdentifier: ECDSA_SHA256, issuerName: ISSUER, thisUpdate: THIS, nextUpdate: NEXT, crlNumber, authorityKeyId: AKI, entries });
    const signature = nodeSign("sha256", tbs, privateKey);
    return der(0x30, tbs, ECDSA_SHA256, der(0x03, Uint8Array.of(0), signature));
  }

  /** Deterministic pseudo-random bytes (xorshift). */
  function prng(seed: number): () => number {
    let x = seed >>> 0 || 1;
    return () => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x;
    };
  }

  test("100,000 entries round-trip through parseCrl, every entry compared (serials 1-20 octets, both time encodings)", () => {
    const rnd = prng(20260301);
    const codes = [0, 1, 2, 3, 4, 5, 6, 8, 9, 10];
    const entries: CrlEntryInput[] = [];
    for (let i = 0; i < 100_000; i++) {
      const len = 1 + (rnd() % 20);
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = rnd() & 0xff;
      if (b[0] === 0) b[0] = 1; // a magnitude has no leading zero octet
      if (i % 5 === 0) b[0] = b[0]! | 0x80; // plenty of high-bit serials
      // UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 §5.1.2.4).
      const revokedAt = new Date((i % 97 === 0 ? Date.UTC(2051, 0, 1) : THIS.getTime() - 400 * DAY) + i * 1000);
      entries.push({
        serial: b.toString("hex"),
        revokedAt,
        reasonCode: codes[i % codes.length]!,
        ...(i % 3 === 0 ? { invalidityDate: new Date(revokedAt.getTime() - (i % 11) * 3_600_000) } : {}),
      });
    }
    const started = performance.now();
    const crlDer = signedCrl(entries, 0xfedcba9876543210n);
    const crl = parseCrl(crlDer);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 10_000, `encode + parse of 100k entries took ${Math.round(elapsed)} ms (linear code takes well under a second)`);
    assert.equal(crl.entries.length, entries.length);
    for (let i = 0; i < entries.length; i++) {
      const want = entries[i]!;
      const got = crl.entries[i]!;
      if (
        got.serial !== want.serial ||
        got.revokedAt.getTime() !== want.revokedAt.getTime() ||
        got.reasonCode !== (want.reasonCode === 0 ? undefined : want.reasonCode) ||
        got.invalidityDate?.getTime() !== want.invalidityDate?.getTime() ||
        Object.keys(got).length !== 2 + (want.reasonCode === 0 ? 0 : 1) + (want.invalidityDate ? 1 : 0)
      ) {
        assert.fail(`entry ${i} differs: wrote ${JSON.stringify(want)}, read ${JSON.stringify(got)}`);
      }
    }
    assert.equal(crl.crlNumber, 0xfedcba9876543210n, "a CRL number with its high bit set (leading 00 added) reads back");
    assert.equal(crl.thisUpdate.getTime(), THIS.getTime());
    assert.equal(crl.nextUpdate?.getTime(), NEXT.getTime());
    assert.ok(Buffer.from(crl.authorityKeyId!).equals(Buffer.from(AKI)));
    assert.ok(Buffer.from(crl.issuer).equals(Buffer.from(ISSUER)));
    assert.equal(verifyCrlSignature(crl, spki), true);
  });

  test("RFC 5280 §5.1.2.6: an empty CRL has no revokedCertificates field at all", () => {
    const crlDer = signedCrl([]);
    const tbs = kids(crlDer, tlvAt(crlDer, 0))[0]!;
    // version, signature, issuer, thisUpdate, nextUpdate, [0] crlExtensions: no SEQUENCE after nextUpdate.
    assert.deepEqual(kids(crlDer, tbs).map((x) => x.tag), [0x02, 0x30, 0x30, 0x17, 0x17, 0xa0]);
    const crl = parseCrl(crlDer);
    assert.deepEqual(crl.entries, []);
    assert.equal(crl.crlNumber, 1n);
    assert.equal(verifyCrlSignature(crl, spki), true);
  });

  test("X.690 §8.3: serials with the high bit set get a leading 00 and decode back without it", () => {
    const serials = ["80", "ff", "7f", "01", "8000000000000000000000000000000000000001", "ffffffffffffffffffffffffffffffffffffffff", "0a0b"];
    const crlDer = signedCrl(serials.map((serial) => ({ serial, revokedAt: THIS, reasonCode: 1 })));
    const tbs = kids(crlDer, tlvAt(crlDer, 0))[0]!;
    const list = kids(crlDer, tbs).find((x, i) => i > 4 && x.tag === 0x30)!;
    const encoded = kids(crlDer, list).map((entry) => value(crlDer, kids(crlDer, entry)[0]!).toString("hex"));
    assert.deepEqual(encoded, ["0080", "00ff", "7f", "01", "008000000000000000000000000000000000000001", "00ffffffffffffffffffffffffffffffffffffffff", "0a0b"]);
    assert.deepEqual(parseCrl(crlDer).entries.map((e) => e.serial), serials);
  });

  test("a tampered byte makes verifyCrlSignature false; the wrong key too", () => {
    const entries = [{ serial: "0102030405", revokedAt: THIS, reasonCode: 1 }];
    const crlDer = signedCrl(entries);
    assert.equal(verifyCrlSignature(parseCrl(crlDer), spki), true);
    // Change the revoked serial's last octet (inside the TBS).
    const serialAt = Buffer.from(crlDer).indexOf(Buffer.from("02050102030405", "hex"));
    assert.ok(serialAt > 0);
    const tampered = Uint8Array.from(crlDer);
    tampered[serialAt + 6] = 0x06;
    const parsed = parseCrl(tampered);
    assert.equal(parsed.entries[0]!.serial, "0102030406", "still parses");
    assert.equal(verifyCrlSignature(parsed, spki), false);
    // Change a byte of the signature.
    const sigTampered = Uint8Array.from(crlDer);
    sigTampered[sigTampered.length - 5] = sigTampered[sigTampered.length - 5]! ^ 0x01;
    assert.equal(verifyCrlSignature(parseCrl(sigTampered), spki), false);
    const other = new Uint8Array(newKeyPair("ec", { namedCurve: "P-256" }).publicKey.export({ format: "der", type: "spki" }));
    assert.equal(verifyCrlSignature(parseCrl(crlDer), other), false);
  });

  test("truncated DER (and trailing bytes) are INPUT_INVALID (a CRL is outside input)", () => {
    const crlDer = signedCrl([{ serial: "aa", revokedAt: THIS, reasonCode: 0 }, { serial: "bb", revokedAt: THIS, reasonCode: 4 }]);
    for (const cut of [1, 2, 10, 40, crlDer.length - 1]) {
      assert.throws(() => parseCrl(crlDer.subarray(0, cut)), { code: "INPUT_INVALID" }, `cut at ${cut}`);
    }
    assert.throws(() => parseCrl(new Uint8Array(0)), { code: "INPUT_INVALID" });
    assert.throws(() => parseCrl(Uint8Array.from([...crlDer, 0])), { code: "INPUT_INVALID", message: /trailing bytes/ });
  });
});
