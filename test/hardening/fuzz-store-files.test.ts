/**
 * Fuzzing the store's files as a hostile home holds them (issue 12 §6): state.json (bytes and
 * field values), the revocation log, the audit log, an inventory segment, the serial table and a
 * batch index, and a PostgreSQL home's store.json, are mutated in place and read back the way commands read them. Every read answers or
 * refuses with a TrustlineError (STORE_CORRUPT, AUDIT_TAMPERED, CONFIG_INVALID...), never anything else.
 */
import assert from "node:assert/strict";
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { addStation, checkStore, issueTlsCertificate, generateDeviceCertificate, Home, listCas, listCertificates, readAuditLog, revokeCertificate, verifyAuditLog } from "../../ca/index.js";
import { fixedClock, makeHome, PASSPHRASE, tempDir } from "../helpers/pki.js";
import { FUZZ_RUNS, fuzz, mutated } from "./fuzz-helpers.js";

describe("fuzzing the store's files: only TrustlineErrors escape", { timeout: 600_000 }, () => {
  let t: { dir: string; cleanup: () => void };
  let pristine: string;
  let work: string;
  const serials: string[] = [];
  const file = (...p: string[]) => join(work, ...p);
  const original = (...p: string[]) => new Uint8Array(readFileSync(join(pristine, ...p)));
  const open = () => Home.open({ home: work, passphrase: async () => PASSPHRASE, clock: fixedClock });

  before(async () => {
    t = tempDir("trustline-fuzz-store-");
    const home = await makeHome(join(t.dir, "pristine"));
    pristine = home.dir;
    for (let i = 0; i < 3; i++) serials.push((await generateDeviceCertificate(home, `dev-fuzz-store-${i}`, { batch: "B-FUZZ" })).record.serial);
    await revokeCertificate(home, serials[0]!, { reason: "keyCompromise" });
    // A station and the EST server's TLS certificate, so the fuzzed state.json holds those fields too.
    await addStation(home, "line-fuzz");
    await issueTlsCertificate(home, { hosts: ["est.fuzz.example", "10.0.0.1"] });
    work = join(t.dir, "work");
    cpSync(pristine, work, { recursive: true });
  });
  after(() => t.cleanup());

  /** Put `content` at `path` (the rest of the home as it was), then read with `reads`. */
  const readsWith = (path: string[], reads: (home: Home) => Promise<unknown>) => async (content: Uint8Array) => {
    writeFileSync(file(...path), content);
    try {
      await reads(await open());
    } finally {
      writeFileSync(file(...path), original(...path));
    }
  };

  const everyRead = async (home: Home) => {
    listCas(home);
    for await (const c of listCertificates(home)) assert.ok(c.serial);
    await home.inventory.getCertificate(serials[1]!);
    await home.inventory.revocations();
    await home.inventory.batchRequests("B-FUZZ");
  };

  test(`state.json, byte mutations: ${FUZZ_RUNS}`, async () => {
    await fuzz(mutated([original("state.json")]), readsWith(["state.json"], async (home) => listCas(home)));
  });

  test(`state.json, any JSON value in any field: ${FUZZ_RUNS}`, async () => {
    const state = JSON.parse(Buffer.from(original("state.json")).toString("utf8")) as Record<string, unknown>;
    const paths: string[][] = [];
    const walk = (v: unknown, at: string[]) => {
      paths.push(at);
      if (typeof v === "object" && v !== null) for (const [k, c] of Object.entries(v)) walk(c, [...at, k]);
    };
    walk(state, []);
    const edited = fc.tuple(fc.constantFrom(...paths.filter((p) => p.length > 0)), fc.jsonValue({ maxDepth: 2 })).map(([path, value]) => {
      const copy = structuredClone(state);
      let node = copy as Record<string, unknown>;
      for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
      node[path.at(-1)!] = value;
      return new TextEncoder().encode(JSON.stringify(copy));
    });
    await fuzz(edited, readsWith(["state.json"], async (home) => {
      listCas(home);
      await verifyAuditLog(home);
    }));
  });

  test(`inventory/revocations.jsonl: ${FUZZ_RUNS}`, async () => {
    await fuzz(mutated([original("inventory", "revocations.jsonl")]), readsWith(["inventory", "revocations.jsonl"], everyRead));
  });

  test(`audit/log.jsonl, read and verified: ${FUZZ_RUNS}`, async () => {
    await fuzz(mutated([original("audit", "log.jsonl")]), readsWith(["audit", "log.jsonl"], async (home) => {
      const verdict = await verifyAuditLog(home);
      assert.equal(typeof verdict.intact, "boolean");
      for await (const e of readAuditLog(home)) assert.ok(e !== undefined);
    }));
  });

  test("store.json (a home on PostgreSQL names its database there), byte mutations: 300", async () => {
    // A database that is not there: every mutation must end in a refusal with a code (a bad file, a
    // URL with a password, an unreachable server), never an internal error, and never a hang.
    const config = new TextEncoder().encode(JSON.stringify({ format: "trustline-store/1", url: `postgres:///x?host=${encodeURIComponent(join(t.dir, "no-server"))}&user=postgres` }));
    const runs = await fuzz(mutated([config]), async (content) => {
      writeFileSync(file("store.json"), content);
      try {
        await open();
        assert.fail("a home whose database cannot be reached opened");
      } finally {
        rmSync(file("store.json"), { force: true });
      }
    }, 300);
    assert.equal(runs, 300);
  });

  test(`audit/head.json: ${FUZZ_RUNS}`, async () => {
    await fuzz(mutated([original("audit", "head.json")]), readsWith(["audit", "head.json"], (home) => verifyAuditLog(home)));
  });

  test(`an inventory segment, and the store check over it: ${FUZZ_RUNS}`, async () => {
    const segment = readdirSync(join(pristine, "inventory", "segments"))[0]!;
    await fuzz(
      mutated([original("inventory", "segments", segment)]),
      readsWith(["inventory", "segments", segment], async (home) => {
        await everyRead(home);
        await checkStore(home);
      }),
    );
  });

  test(`inventory/index/serials.tbl and the batch index: ${FUZZ_RUNS} each`, async () => {
    await fuzz(mutated([original("inventory", "index", "serials.tbl")]), readsWith(["inventory", "index", "serials.tbl"], everyRead));
    await fuzz(mutated([original("inventory", "index", "batch-B-FUZZ.idx")]), readsWith(["inventory", "index", "batch-B-FUZZ.idx"], everyRead));
  });

  test("regression: a state.json with a field of the wrong type is STORE_CORRUPT naming the field", async () => {
    const state = JSON.parse(Buffer.from(original("state.json")).toString("utf8"));
    state.cas = [];
    writeFileSync(file("state.json"), JSON.stringify(state));
    await assert.rejects(open(), { code: "STORE_CORRUPT", message: /state\.cas is not an object/ });
    state.cas = { root: { ...state.cas, certificate: 7 } };
    writeFileSync(file("state.json"), JSON.stringify(state));
    await assert.rejects(open(), { code: "STORE_CORRUPT" });
    writeFileSync(file("state.json"), original("state.json"));
  });
});
