/**
 * The `Store` contract, one suite for every store: the embedded FileInventory and the PostgreSQL
 * inventory run exactly these tests (test/store/store-contract.test.ts). Records are made with a
 * fixed clock; every assertion is on exact values.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type CertificateRecord, type Inventory, type RevocationEntry, type Store, TrustlineError } from "../../ca/index.js";

const NOW = new Date("2026-12-01T12:00:00.000Z");
const iso = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();
const DAY = 86_400_000;

let n = 0;
export function record(overrides: Partial<CertificateRecord> = {}): CertificateRecord {
  n += 1;
  const serial = overrides.serial ?? randomBytes(20).toString("hex").replace(/^0+/, "").replace(/^[89a-f]/, "1");
  return {
    serial,
    ca: "device",
    profile: "device",
    policyOids: ["1.3.6.1.4.1.32473.1.1.1"],
    subject: `CN=dev-${n}`,
    commonName: `dev-${n}`,
    notBefore: iso(-DAY),
    notAfter: iso(365 * DAY),
    der: randomBytes(48).toString("base64"),
    requestSha256: randomBytes(32).toString("hex"),
    keySource: "csr",
    operator: "alice",
    station: "line-1",
    session: null,
    origin: "totp",
    batch: null,
    issuedAt: iso(-DAY + n),
    ...overrides,
  };
}

function revocation(r: CertificateRecord, reason: RevocationEntry["reason"], at: number): RevocationEntry {
  return { serial: r.serial, ca: r.ca, reason, revokedAt: iso(at), notAfter: r.notAfter, operator: "bob", station: "pki-office", session: null, origin: "totp" };
}

async function collect(store: Store, filter: Parameters<Store["query"]>[0]): Promise<string[]> {
  const out: string[] = [];
  for await (const r of store.query(filter, NOW)) out.push(r.serial);
  return out;
}

const isConflict = (e: unknown) => e instanceof TrustlineError && e.code === "STORE_CONFLICT";

export interface ContractSubject {
  readonly store: Inventory;
  close(): Promise<void>;
}

/** The suite, against a fresh, empty store from `open`. */
export function storeContract(name: string, open: () => Promise<ContractSubject>, options: { skip?: string | false } = {}): void {
  describe(`Store contract: ${name}`, { skip: options.skip ?? false, timeout: 120_000 }, () => {
    let subject: ContractSubject;
    let store: Inventory;
    before(async () => {
      subject = await open();
      store = subject.store;
    });
    after(() => subject?.close());

    const a = record({ station: "line-7", batch: "B1" });
    const b = record({ station: "line-7", batch: "B1", operator: "carol" });
    const c = record({ station: "line-8", ca: "firmware", profile: "firmware-signer", batch: null });
    const expired = record({ notBefore: iso(-400 * DAY), notAfter: iso(-DAY), issuedAt: iso(-400 * DAY) });
    const future = record({ notBefore: iso(DAY), notAfter: iso(30 * DAY) });
    const soon = record({ notAfter: iso(20 * DAY), batch: "B2" });

    test("a record reads back exactly as written; an unknown serial is undefined", async () => {
      await store.putCertificate(a);
      await store.putCertificates([b, c, expired, future, soon]);
      assert.deepEqual(await store.getCertificate(a.serial), a);
      assert.deepEqual(await store.getCertificate(c.serial), c);
      assert.equal(await store.getCertificate("abc123"), undefined);
    });

    test("a duplicate serial is STORE_CONFLICT, alone or inside a group, and nothing of that group is stored", async () => {
      await assert.rejects(store.putCertificate({ ...a, commonName: "other" }), isConflict);
      const fresh = record();
      await assert.rejects(store.putCertificates([fresh, { ...b }]), isConflict);
      assert.equal(await store.getCertificate(fresh.serial), undefined);
      const twice = record();
      await assert.rejects(store.putCertificates([twice, { ...twice }]), isConflict);
      assert.equal(await store.getCertificate(twice.serial), undefined);
      assert.deepEqual(await store.getCertificate(a.serial), a, "the stored record is unchanged");
    });

    test("query filters: CA, profile, operator, station, batch, issue window; in order of issue", async () => {
      assert.deepEqual(await collect(store, {}), [a, b, c, expired, future, soon].map((r) => r.serial));
      assert.deepEqual(await collect(store, { ca: "firmware" }), [c.serial]);
      assert.deepEqual(await collect(store, { profile: "device", station: "line-7" }), [a.serial, b.serial]);
      assert.deepEqual(await collect(store, { operator: "carol" }), [b.serial]);
      assert.deepEqual(await collect(store, { batch: "B1" }), [a.serial, b.serial]);
      assert.deepEqual(await collect(store, { batch: "nope" }), []);
      assert.deepEqual(await collect(store, { issuedFrom: b.issuedAt, issuedTo: c.issuedAt }), [b.serial]);
    });

    test("status: valid, expired, not yet valid, expiring within; revoked and on hold from the revocation events", async () => {
      assert.deepEqual(await collect(store, { status: "expired" }), [expired.serial]);
      assert.deepEqual(await collect(store, { status: "not-yet-valid" }), [future.serial]);
      assert.deepEqual(await collect(store, { expiringWithinDays: 30 }), [soon.serial]);
      await store.revoke([revocation(a, "keyCompromise", 1000), revocation(b, "certificateHold", 2000)]);
      assert.deepEqual(await collect(store, { status: "revoked" }), [a.serial]);
      assert.deepEqual(await collect(store, { status: "on-hold" }), [b.serial]);
      assert.deepEqual(await collect(store, { status: "valid", station: "line-7" }), []);
    });

    test("revocations: the last event per serial wins, removeFromCRL releases a hold, by CA", async () => {
      await store.revoke([revocation(b, "removeFromCRL", 3000), revocation(c, "superseded", 4000)]);
      const all = await store.revocations();
      assert.deepEqual([...all.keys()].sort(), [a.serial, c.serial].sort());
      assert.equal(all.get(a.serial)!.reason, "keyCompromise");
      assert.deepEqual(all.get(c.serial), revocation(c, "superseded", 4000));
      assert.deepEqual([...(await store.revocations("firmware")).keys()], [c.serial]);
      assert.deepEqual([...(await store.revocations("device")).keys()], [a.serial]);
      assert.deepEqual(await collect(store, { status: "valid", station: "line-7" }), [b.serial], "released from hold");
    });

    test("revocation position: where revocationEventsSince ends, growing with each revocation", async () => {
      const at = await store.revocationPosition();
      assert.equal(at, (await store.revocationEventsSince(0)).next);
      assert.ok(at > 0);
      assert.deepEqual((await store.revocationEventsSince(at)).entries, []);
      await store.revoke([revocation(c, "keyCompromise", 5000)]);
      const next = await store.revocationPosition();
      assert.ok(next > at);
      assert.deepEqual(await store.revocationEventsSince(at), { entries: [revocation(c, "keyCompromise", 5000)], next });
      await store.revoke([revocation(c, "superseded", 6000)]); // as it was for the tests below
      assert.deepEqual((await store.revocations("firmware")).get(c.serial), revocation(c, "superseded", 6000));
    });

    test("batch requests: request SHA-256 -> serial of every record of a batch", async () => {
      assert.deepEqual(
        await store.batchRequests("B1"),
        new Map([
          [a.requestSha256, a.serial],
          [b.requestSha256, b.serial],
        ]),
      );
      assert.deepEqual(await store.batchRequests("none"), new Map());
    });

    test("12,000 records in groups of 1,000: all read back, in order, none twice", async () => {
      const big = Array.from({ length: 12_000 }, (_, i) => record({ batch: "BIG", station: `s-${i % 4}` }));
      for (let i = 0; i < big.length; i += 1000) await store.putCertificates(big.slice(i, i + 1000));
      const seen = await collect(store, { batch: "BIG" });
      assert.equal(seen.length, 12_000);
      assert.deepEqual(seen, big.map((r) => r.serial));
      assert.equal((await collect(store, { station: "s-3" })).length, 3_000);
      assert.equal((await store.batchRequests("BIG")).size, 12_000);
    });
  });
}
