/** The trusted-role table: each role's writes, exactly; the auditor's one write is signing a report. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { allows, ROLES, rolesAllowing, type WriteAction } from "../../ca/operators/roles.js";

const ACTIONS: WriteAction[] = ["config.set", "ca.create", "ca.move-key", "operator.manage", "revoke.mass", "store.backup", "store.restore", "audit.certify", "station.manage", "issue.signer", "revoke.single", "revoke.hold", "crl.issue", "dps.export", "dps.push", "issue.device", "report.sign"];

test("each write belongs to exactly one role, but signing a report (admin and auditor); the auditor writes nothing else", () => {
  assert.deepEqual(
    Object.fromEntries(ACTIONS.map((a) => [a, rolesAllowing(a)])),
    {
      "ca.create": ["admin"], "ca.move-key": ["admin"], "operator.manage": ["admin"], "revoke.mass": ["admin"], "store.backup": ["admin"], "store.restore": ["admin"], "audit.certify": ["admin"], "config.set": ["admin"], "station.manage": ["admin"],
      "issue.signer": ["officer"], "revoke.single": ["officer"], "revoke.hold": ["officer"], "crl.issue": ["officer"], "dps.export": ["officer"], "dps.push": ["officer"],
      "issue.device": ["issuer"],
      "report.sign": ["admin", "auditor"],
    },
  );
  assert.deepEqual(ACTIONS.filter((a) => allows(["auditor"], a)), ["report.sign"]);
  assert.deepEqual(ROLES, ["admin", "officer", "issuer", "auditor"]);
});

test("the issue's refusals: an issuer cannot create a CA, add an operator or revoke; an officer cannot issue devices; several roles add up", () => {
  assert.equal(allows(["issuer"], "ca.create"), false);
  assert.equal(allows(["issuer"], "operator.manage"), false);
  assert.equal(allows(["issuer"], "revoke.single"), false);
  assert.equal(allows(["officer"], "issue.device"), false);
  assert.equal(allows(["officer", "issuer"], "issue.device"), true);
  // Stations and the EST server's TLS certificate are an admin's alone.
  assert.deepEqual(ROLES.filter((r) => allows([r], "station.manage")), ["admin"]);
});

test("certificate-policy.md §5.2.1 lists exactly what each role allows", async () => {
  const { readFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { REPO_ROOT } = await import("../helpers/pki.js");
  const { actionsAllowed } = await import("../../ca/operators/roles.js");
  const doc = readFileSync(join(REPO_ROOT, "certificate-policy.md"), "utf8");
  const section = doc.slice(doc.indexOf("#### 5.2.1 Trusted roles"), doc.indexOf("#### 5.2.2"));
  const rows = [...section.matchAll(/^\| (admin|officer|issuer|auditor) \| (.+) \|$/gm)].map((m) => [m[1], m[2] === "none" ? [] : [...m[2]!.matchAll(/`([^`]+)`/g)].map((x) => x[1])]);
  assert.deepEqual(rows, ROLES.map((r) => [r, actionsAllowed(r)]));
});
