/** The audit trail detects an edited, a deleted and a swapped entry, a cut tail and a forged head. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { generateDeviceCertificate, type Home, verifyAuditLog } from "../../ca/index.js";
import { entryHash } from "../../ca/audit/log.js";
import { makeHome, reopen, tempDir } from "../helpers/pki.js";

let base: { dir: string; cleanup: () => void };
let pristine: { log: string; head: string };
let home: Home;

before(async () => {
  base = tempDir();
  home = await makeHome(base.dir);
  for (let i = 1; i <= 3; i++) await generateDeviceCertificate(home, `dev-${i}`);
  pristine = { log: readFileSync(logPath(), "utf8"), head: readFileSync(headPath(), "utf8") };
});
after(() => base.cleanup());

const logPath = () => join(home.dir, "audit", "log.jsonl");
const headPath = () => join(home.dir, "audit", "head.json");

function withLog(change: (lines: string[]) => string[]): void {
  const lines = pristine.log.trimEnd().split("\n");
  writeFileSync(logPath(), `${change(lines).join("\n")}\n`);
  writeFileSync(headPath(), pristine.head);
}

test("an intact log verifies: every entry chained, head signed through the last", async () => {
  withLog((l) => l);
  const v = await verifyAuditLog(home);
  assert.equal(v.intact, true);
  assert.ok(v.intact && v.entries === pristine.log.trimEnd().split("\n").length && v.unsignedTail === 0);
  // init, 3 × ca.create with intent/issue (= 3 × 3), the audit key certified (intent, issue, audit.certify), the first admin enrolled, 3 devices × (intent, issue)
  assert.equal(v.entries, 1 + 9 + 3 + 1 + 6);
});

test("an edited entry is detected and named", async () => {
  withLog((l) => l.map((line, i) => (i === 4 ? line.replace('"operator":"alice"', '"operator":"mallory"') : line)));
  const v = await verifyAuditLog(home);
  assert.equal(v.intact, false);
  assert.ok(!v.intact);
  assert.equal(v.firstBad, 5);
  assert.match(v.problem, /entry 5 was edited/);
});

test("an edited entry whose hash was recomputed still breaks the link to the next one", async () => {
  withLog((l) =>
    l.map((line, i) => {
      if (i !== 4) return line;
      const { hash: _h, ...body } = JSON.parse(line) as Record<string, unknown> & { hash: string };
      void _h;
      const forged = { ...body, operator: "mallory" };
      return JSON.stringify({ ...forged, hash: entryHash(forged as never) });
    }),
  );
  const v = await verifyAuditLog(home);
  assert.ok(!v.intact);
  assert.equal(v.firstBad, 6);
  assert.match(v.problem, /does not follow entry 5/);
});

test("a deleted entry is detected and named", async () => {
  withLog((l) => l.filter((_, i) => i !== 6));
  const v = await verifyAuditLog(home);
  assert.ok(!v.intact);
  assert.equal(v.firstBad, 7);
  assert.match(v.problem, /deleted/);
});

test("two swapped entries are detected and named", async () => {
  withLog((l) => {
    const c = [...l];
    [c[7], c[8]] = [c[8]!, c[7]!];
    return c;
  });
  const v = await verifyAuditLog(home);
  assert.ok(!v.intact);
  assert.equal(v.firstBad, 8);
  assert.match(v.problem, /reordered|deleted|swapped/);
});

test("cutting entries off the end is caught by the signed head", async () => {
  withLog((l) => l.slice(0, -2));
  const v = await verifyAuditLog(home);
  assert.ok(!v.intact);
  assert.equal(v.firstBad, l(pristine.log) - 1);
  assert.match(v.problem, /were deleted/);
});

test("rewriting the whole chain is caught: the head no longer matches", async () => {
  withLog((l) => {
    let prev = "0".repeat(64);
    return l.map((line) => {
      const { hash: _h, ...body } = JSON.parse(line) as Record<string, unknown>;
      void _h;
      const forged = { ...body, prev, operator: "mallory" };
      const hash = entryHash(forged as never);
      prev = hash;
      return JSON.stringify({ ...forged, hash });
    });
  });
  const v = await verifyAuditLog(home);
  assert.ok(!v.intact);
  assert.match(v.problem, /rewritten/);
});

test("a forged or missing head is refused", async () => {
  withLog((l) => l);
  const head = JSON.parse(pristine.head) as { signature: string };
  const sig = Buffer.from(head.signature, "base64");
  sig[sig.length - 3] = sig[sig.length - 3]! ^ 0x01;
  writeFileSync(headPath(), JSON.stringify({ ...head, signature: sig.toString("base64") }));
  const forged = await verifyAuditLog(home);
  assert.ok(!forged.intact);
  assert.match(forged.problem, /signature does not verify/);
  unlinkSync(headPath());
  const missing = await verifyAuditLog(home);
  assert.ok(!missing.intact);
  assert.match(missing.problem, /head .* is missing/);
  writeFileSync(headPath(), pristine.head);
});

test("entries appended without the passphrase are chained but reported as not yet signed", async () => {
  withLog((l) => l);
  const noKey = await reopen(home, { passphrase: "wrong passphrase" });
  await assert.rejects(generateDeviceCertificate(noKey, "dev-x"), { code: "KEY_UNAVAILABLE" });
  const v = await verifyAuditLog(noKey);
  assert.ok(v.intact);
  assert.equal(v.unsignedTail, 1);
  // The wrong passphrase is first met at sign-in (it opens the home's data key).
  const last = readFileSync(logPath(), "utf8").trimEnd().split("\n").at(-1)!;
  assert.match(last, /"action":"auth.fail"/);
  assert.match(last, /"reason":"wrong-passphrase"/);
  // The next operation with the right passphrase signs over it.
  await generateDeviceCertificate(await reopen(home), "dev-y");
  const after = await verifyAuditLog(home);
  assert.ok(after.intact && after.unsignedTail === 0);
});

test("a torn last line (crash mid-append) is cut off by the next writer, and the chain stays intact", async () => {
  withLog((l) => l);
  writeFileSync(logPath(), `${pristine.log}{"seq":99,"tim`);
  await generateDeviceCertificate(await reopen(home), "dev-after-crash");
  const v = await verifyAuditLog(home);
  assert.ok(v.intact, JSON.stringify(v));
  assert.equal(v.entries, l(pristine.log) + 2);
});

function l(text: string): number {
  return text.trimEnd().split("\n").length;
}
