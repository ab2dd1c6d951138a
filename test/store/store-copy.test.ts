/**
 * `trustline store copy` both ways: an embedded home with revocations, a hold and its release, a
 * DPS mirror mark and an audit trail goes into PostgreSQL and back into a new folder; after each
 * copy `audit verify` passes, `cert list` is identical, the DPS mark is kept, and issuing goes on.
 * An occupied destination and a tampered source are refused, leaving nothing behind.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { expectError, expectOk, initCliHome, json, type TestHome } from "../cli/cli-helpers.js";
import { editAuditEntry } from "../helpers/audit-tamper.js";
import { runCli, tempDir } from "../helpers/pki.js";
import { createDatabaseSync, POSTGRES_MISSING } from "../helpers/postgres.js";
import { Home } from "../../ca/index.js";

describe("trustline store copy: embedded -> PostgreSQL -> embedded", { skip: POSTGRES_MISSING, timeout: 180_000 }, () => {
  const t = tempDir();
  let h: TestHome;
  let listing: unknown;
  const list = (home: string) => JSON.parse(runCli(["--home", home, "--json", "cert", "list"]).stdout);
  before(() => {
    h = initCliHome(t.dir);
    const serials: string[] = [];
    for (let i = 0; i < 4; i++) serials.push(json(runCli([...h.g, "--json", "issue", "device", "--generate", `copy-${i}`, "--out-dir", join(t.dir, "o")])).serial);
    expectOk(runCli([...h.g, "revoke", serials[0]!, "--reason", "keyCompromise"]));
    expectOk(runCli([...h.g, "revoke", serials[1]!, "--reason", "certificateHold"]));
    expectOk(runCli([...h.g, "revoke", serials[2]!, "--reason", "certificateHold"]));
    expectOk(runCli([...h.g, "revoke", serials[2]!, "--reason", "removeFromCRL"]));
    expectOk(runCli([...h.g, "dps", "disabled-enrollments", "--out-dir", join(t.dir, "dps")]));
    listing = list(h.home);
  });
  after(() => t.cleanup());

  let url: string;
  const shared = () => join(t.dir, "shared");
  test("into PostgreSQL, with a station folder: the same certificates and statuses, the DPS mark, audit verify intact", () => {
    url = createDatabaseSync();
    const r = runCli(["--json", "store", "copy", "--from", h.home, "--to", url, "--out-home", shared()]);
    expectOk(r);
    const s = json(r);
    assert.equal(s.auditIntact, true);
    assert.equal(s.keysCopied, true);
    assert.equal(s.certificates, (listing as unknown[]).length);
    assert.equal(s.revocationEvents, 4);
    assert.deepEqual(readdirSync(shared()).sort(), ["keys", "store.json"]);
    assert.deepEqual(list(shared()), listing);
    const v = runCli(["--home", shared(), "--json", "audit", "verify"]);
    expectOk(v);
    assert.equal(json(v).entries, s.auditEntries);
  });

  test("the DPS mirror mark came along: a second export from the copy has nothing new", async () => {
    const home = await Home.open({ home: shared() });
    try {
      assert.equal(Object.keys(home.state.dpsMirrors ?? {}).length, 1);
    } finally {
      await home.close();
    }
  });

  test("back into a new folder: identical again, audit verify intact, and issuing continues there", () => {
    const back = join(t.dir, "back");
    const r = runCli(["--json", "store", "copy", "--from", shared(), "--to", back]);
    expectOk(r);
    assert.ok(existsSync(join(back, "state.json")) && existsSync(join(back, "audit", "log.jsonl")) && !existsSync(join(back, "store.json")));
    assert.deepEqual(list(back), listing);
    expectOk(runCli(["--home", back, "audit", "verify"]));
    const passG = ["--home", back, "--passphrase-file", h.passFile];
    // alice's session was opened against the first home's path: sign in to the copy with her shift session file.
    const issued = runCli([...passG, "--session-file", h.sessionFile, "--json", "issue", "device", "--generate", "after-copy", "--out-dir", join(t.dir, "o2")]);
    expectOk(issued);
    expectOk(runCli(["--home", back, "audit", "verify"]));
  });

  test("refused: a destination that holds a home (folder or database), and a source whose audit log was tampered with", async () => {
    expectError(runCli(["--json", "store", "copy", "--from", h.home, "--to", url]), 4, "ALREADY_EXISTS");
    expectError(runCli(["--json", "store", "copy", "--from", h.home, "--to", shared()]), 4, "ALREADY_EXISTS");
    const home = await Home.open({ home: h.home });
    const restore = await editAuditEntry(home, 2, (line) => line.replace('"outcome":"ok"', '"outcome":"OK"'));
    try {
      const dest = join(t.dir, "from-tampered");
      expectError(runCli(["--json", "store", "copy", "--from", h.home, "--to", dest]), 1, "AUDIT_TAMPERED");
      assert.equal(existsSync(dest), false, "nothing left behind");
    } finally {
      await restore();
      await home.close();
    }
  });
});
