/** The trusted-role table: each role's writes, exactly, and nothing for the auditor. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { allows, ROLES, rolesAllowing, type WriteAction } from "../../ca/operators/roles.js";

const ACTIONS: WriteAction[] = ["config.set", "ca.create", "ca.move-key", "operator.manage", "revoke.mass", "store.restore", "audit.certify", "issue.signer", "revoke.single", "revoke.hold", "crl.issue", "dps.export", "dps.push", "issue.device"];

test("each write belongs to exactly one role; the auditor writes nothing", () => {
  assert.deepEqual(
    Object.fromEntries(ACTIONS.map((a) => [a, rolesAllowing(a)])),
    {
      "ca.create": ["admin"], "ca.move-key": ["admin"], "operator.manage": ["admin"], "revoke.mass": ["admin"], "store.restore": ["admin"], "audit.certify": ["admin"], "config.set": ["admin"],
      "issue.signer": ["officer"], "revoke.single": ["officer"], "revoke.hold": ["officer"], "crl.issue": ["officer"], "dps.export": ["officer"], "dps.push": ["officer"],
      "issue.device": ["issuer"],
    },
  );
  assert.equal(ACTIONS.some((a) => allows(["auditor"], a)), false);
  assert.deepEqual(ROLES, ["admin", "officer", "issuer", "auditor"]);
});

test("the issue's refusals: an issuer cannot create a CA, add an operator or revoke; an officer cannot issue devices; several roles add up", () => {
  assert.equal(allows(["issuer"], "ca.create"), false);
  assert.equal(allows(["issuer"], "operator.manage"), false);
  assert.equal(allows(["issuer"], "revoke.single"), false);
  assert.equal(allows(["officer"], "issue.device"), false);
  assert.equal(allows(["officer", "issuer"], "issue.device"), true);
});
