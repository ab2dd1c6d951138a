/**
 * The auditor's report on a home with issuance by several operators and stations, refusals, a hold,
 * single and mass revocations, a firmware signer and CRLs: the JSON validates against its schema
 * and its counts equal what the inventory lists for the same filters; the CSV parses back (with a
 * real CSV parser) to one row per certificate, a subject holding a comma and a quote intact.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "csv-parse/sync";
import {
  buildReport,
  createCsr,
  CSV_COLUMNS,
  csvField,
  generateDeviceCertificate,
  type Home,
  issueCrl,
  issueDeviceCertificate,
  issueSignerCertificate,
  listCertificates,
  newKeyPair,
  type ReportData,
  revokeCertificate,
  revokeMass,
  TrustlineError,
} from "../../ca/index.js";
import { editAuditEntry } from "../helpers/audit-tamper.js";
import { FIXED_NOW, makeHome, REPO_ROOT, reopen, runCli, tempDir } from "../helpers/pki.js";
import { expectError, expectOk, initCliHome, json } from "../cli/cli-helpers.js";

const HOUR = 3_600_000;
const at = (ms: number) => () => new Date(FIXED_NOW.getTime() + ms);
const schema = JSON.parse(readFileSync(join(REPO_ROOT, "schemas", "report.schema.json"), "utf8"));

describe("the auditor's report (JSON and CSV) of a busy home", { timeout: 120_000 }, () => {
  const t = tempDir();
  let home: Home;
  const period = { from: new Date(FIXED_NOW.getTime() - HOUR), to: new Date(FIXED_NOW.getTime() + 48 * HOUR) };
  let report: ReportData;
  let signerSubject = "";
  before(async () => {
    home = await makeHome(t.dir);
    const bob7 = await reopen(home, { operator: "bob", station: "line-7", clock: at(1 * HOUR) });
    const carol8 = await reopen(home, { operator: "carol", station: "line-8", clock: at(2 * HOUR) });
    const night = await reopen(home, { operator: "carol", station: "line-8", clock: at(11 * HOUR) }); // 23:00 UTC
    for (let i = 0; i < 4; i++) await generateDeviceCertificate(bob7, `b7-${i}`, { batch: "B1" });
    for (let i = 0; i < 3; i++) await generateDeviceCertificate(carol8, `c8-${i}`, { batch: "B2" });
    await generateDeviceCertificate(night, "c8-night", { batch: "B2" });
    // carol at line-7, a station she never worked at: an anomaly.
    const carol7 = await reopen(home, { operator: "carol", station: "line-7", clock: at(25 * HOUR) });
    await generateDeviceCertificate(carol7, "c7-0");
    // Refusals: a weak key in batch B1 (1 of 5: over 1%).
    const weak = newKeyPair("rsa", { modulusLength: 1024 }).privateKey;
    await assert.rejects(issueDeviceCertificate(bob7, createCsr(weak, "b7-weak"), { batch: "B1" }), (e: unknown) => e instanceof TrustlineError && e.code === "POLICY_DENIED");
    const signer = await issueSignerCertificate(bob7, createCsr(newKeyPair("ec", { namedCurve: "P-256" }).privateKey, "x"), "O'Brien, nightly");
    // A station name with a double quote and a comma (free text): the CSV must quote and double it.
    await generateDeviceCertificate(await reopen(home, { operator: "bob", station: 'hall "B", line 9', clock: at(3 * HOUR) }), "b9-0");
    signerSubject = signer.record.subject;
    const officer = await reopen(home, { operator: "olga", station: "hq", clock: at(30 * HOUR) });
    const list = [];
    for await (const c of listCertificates(officer, { batch: "B1" })) list.push(c);
    await revokeCertificate(officer, list[0]!.serial, { reason: "keyCompromise" });
    await revokeCertificate(officer, list[1]!.serial, { reason: "certificateHold" });
    await revokeMass(officer, { batch: "B2" }, { reason: "superseded" });
    await issueCrl(officer, "device");
    report = await buildReport(await reopen(home, { clock: at(40 * HOUR) }), period);
  });
  after(() => t.cleanup());

  test("the JSON validates against schemas/report.schema.json", () => {
    const validate = new Ajv2020({ allErrors: true }).compile(schema);
    assert.equal(validate(report), true, JSON.stringify(validate.errors, null, 2));
    // And the schema has teeth: a count that is not a whole number, or an unknown field, is refused.
    assert.equal(validate({ ...report, issuance: { ...report.issuance, total: 1.5 } }), false);
    assert.equal(validate({ ...report, extra: 1 }), false);
  });

  test("issuance counts equal what the inventory lists for the same filters, and add up", async () => {
    const listed: { profile: string; operator: string; station: string; batch: string | null; origin?: string; issuedAt: string }[] = [];
    for await (const c of listCertificates(home, { issuedFrom: period.from.toISOString(), issuedTo: period.to.toISOString() })) {
      if (!c.profile.endsWith("-ca")) listed.push(c);
    }
    assert.equal(report.issuance.total, listed.length);
    const by = (key: (c: (typeof listed)[number]) => string | null) => {
      const out: Record<string, number> = {};
      for (const c of listed) {
        const k = key(c);
        if (k !== null) out[k] = (out[k] ?? 0) + 1;
      }
      return out;
    };
    assert.deepEqual(report.issuance.byOperator, by((c) => c.operator));
    assert.deepEqual(report.issuance.byStation, by((c) => c.station));
    assert.deepEqual(report.issuance.byBatch, by((c) => c.batch));
    assert.deepEqual(report.issuance.byProfile, by((c) => c.profile));
    assert.deepEqual(report.issuance.byOrigin, by((c) => c.origin ?? "not recorded"));
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    assert.equal(sum(Object.fromEntries(Object.entries(report.issuance.byDay).map(([d, s]) => [d, sum(s)]))), report.issuance.total);
    assert.deepEqual(report.issuance.byOperator.bob, 6, "5 devices and the signer");
    assert.deepEqual(report.issuance.byDay["2026-03-01"]!["line-8"], 4, "three by day and one at 23:00 on the 1st");
    assert.deepEqual(report.issuance.byDay["2026-03-02"], { "line-7": 1 }, "carol at line-7 the next day");
  });

  test("refusals by code, revocations by reason (holds included, the mass revocation with its plan), CRLs, signers, audit", () => {
    assert.deepEqual([report.refusals.total, report.refusals.byCode], [1, { POLICY_DENIED: 1 }]);
    assert.deepEqual(report.revocations.byReason, { keyCompromise: 1, certificateHold: 1, superseded: 4 });
    assert.equal(report.revocations.total, 6);
    assert.deepEqual(report.revocations.mass.map((m) => [m.operator, m.reason, m.count, m.selector]), [["olga", "superseded", 4, { batch: "B2" }]]);
    assert.deepEqual(report.crls.map((c) => [c.ca, c.crlNumber, c.entries]), [["device", 1, 6]]);
    assert.deepEqual(report.firmwareSigners.map((s) => [s.subject, s.status, s.operator]), [[signerSubject, "valid", "bob"]]);
    assert.equal(report.audit.intact, true);
    assert.match(report.audit.headHash!, /^[0-9a-f]{64}$/);
    assert.deepEqual(report.home.cas.map((c) => [c.name, c.keyBackend]), [["root", "file"], ["device", "file"], ["firmware", "file"]]);
    assert.equal(report.home.certificatePolicyOid, `${report.home.policyArc}.1`);
    assert.deepEqual(report.home.cas.find((c) => c.name === "device")!.policyOids, [`${report.home.policyArc}.1.1`, `${report.home.policyArc}.1.3`]);
  });

  test("anomalies: issuance at night, an operator at a station new to her, a batch with over 1% refused, CA keys in files", () => {
    const kinds = report.anomalies.map((a) => `${a.kind}:${JSON.stringify(a.details)}`);
    assert.ok(kinds.includes('off-hours:{"station":"line-8","count":1}'), kinds.join("\n"));
    assert.ok(kinds.some((k) => k.startsWith('new-station-for-operator:{"operator":"carol","station":"line-7"')), kinds.join("\n"));
    assert.ok(kinds.some((k) => k.startsWith('batch-refusals:{"batch":"B1","refused":1')), kinds.join("\n"));
    assert.equal(report.anomalies.filter((a) => a.kind === "file-key").length, 3);
  });

  test("the CSV parses back to one row per certificate of the period; a subject with a comma and a quote is intact", async () => {
    const { writeReportCsv } = await import("../../ca/index.js");
    const chunks: string[] = [];
    const { Writable } = await import("node:stream");
    const sink = new Writable({ write: (c, _e, done) => (chunks.push(String(c)), done()) });
    const rows = await writeReportCsv(await reopen(home, { clock: at(40 * HOUR) }), period, sink);
    const text = chunks.join("");
    assert.ok(text.endsWith("\r\n"));
    const records = parse(text, { columns: true }) as Record<string, string>[];
    assert.equal(records.length, rows);
    assert.deepEqual(Object.keys(records[0]!), [...CSV_COLUMNS]);
    let inPeriod = 0;
    for await (const _ of listCertificates(home, { issuedFrom: period.from.toISOString(), issuedTo: period.to.toISOString() })) inPeriod++;
    assert.equal(rows, inPeriod);
    assert.ok(signerSubject.includes(",") && signerSubject.includes("'"), signerSubject);
    const signerRow = records.find((r) => r.profile === "firmware-signer")!;
    assert.equal(signerRow.subject, signerSubject);
    assert.equal(records.filter((r) => r.station === 'hall "B", line 9').length, 1);
    assert.ok(text.includes('"hall ""B"", line 9"'), "the double quote is doubled inside a quoted field");
    const revoked = records.filter((r) => r.revocationReason === "keyCompromise");
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]!.status, "revoked");
  });

  test("a tampered audit log: the verdict says so, and the trail's counts still cover every entry", async () => {
    const restore = await editAuditEntry(home, 3, (line) => line.replace('"outcome":"ok"', '"outcome":"OK"'));
    try {
      const tampered = await buildReport(await reopen(home, { clock: at(40 * HOUR) }), period);
      assert.deepEqual([tampered.audit.intact, tampered.audit.problem], [false, "entry 3 was edited: its content does not match its hash"]);
      assert.deepEqual([tampered.refusals, tampered.crls, tampered.revocations.mass], [report.refusals, report.crls, report.revocations.mass]);
    } finally {
      await restore();
    }
  });

  test("a field a spreadsheet would run as a formula is defused; quoting follows RFC 4180", () => {
    assert.equal(csvField("=HYPERLINK(\"x\")"), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvField("plain"), "plain");
    assert.equal(csvField("a,b"), '"a,b"');
    assert.equal(csvField("line\nbreak"), '"line\nbreak"');
  });
});

describe("trustline report", { timeout: 120_000 }, () => {
  const t = tempDir();
  after(() => t.cleanup());

  test("writes JSON and CSV, refuses to overwrite, refuses a bad period", () => {
    const h = initCliHome(t.dir);
    expectOk(runCli([...h.g, "issue", "device", "--generate", "dev-r1", "--out-dir", join(t.dir, "o")]));
    const out = join(t.dir, "report.json");
    const r = runCli([...h.gNoPass, "--json", "report", "--out", out]);
    expectOk(r);
    assert.deepEqual([json(r).issued, json(r).auditIntact], [2, true], "the device and the audit signer of init");
    const doc = JSON.parse(readFileSync(out, "utf8"));
    assert.equal(doc.format, "trustline-report/1");
    assert.equal(new Ajv2020().validate(schema, doc), true);
    expectError(runCli([...h.gNoPass, "--json", "report", "--out", out]), 4, "ALREADY_EXISTS");
    const csv = join(t.dir, "report.csv");
    const c = runCli([...h.gNoPass, "--json", "report", "--format", "csv", "--out", csv]);
    expectOk(c);
    assert.equal(json(c).rows, (parse(readFileSync(csv, "utf8"), { columns: true }) as unknown[]).length);
    expectError(runCli([...h.gNoPass, "--json", "report", "--out", join(t.dir, "x.json"), "--from", "2026-12-01", "--to", "2026-11-01"]), 2, "USAGE");
    expectError(runCli([...h.gNoPass, "--json", "report", "--out", join(t.dir, "y.json"), "--ca", "nope"]), 3, "NOT_FOUND");
  });
});
