/** When a device may renew itself over EST (policy/renewal.ts), and certificate-policy.md §4.6 saying the same. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RENEWAL, renewalProblem } from "../../policy/index.js";
import { REPO_ROOT } from "../helpers/pki.js";

const thirty = { profile: "device" as const, notBefore: "2026-03-01T00:00:00.000Z", notAfter: "2026-03-31T00:00:00.000Z" };

test("a 30-day device certificate renews from its 20th day until it expires", () => {
  assert.equal(renewalProblem(thirty, new Date("2026-03-20T23:59:59.000Z")), "the renewal window opens at 2026-03-21T00:00:00.000Z, when a third of the certificate's validity remains");
  assert.equal(renewalProblem(thirty, new Date("2026-03-21T00:00:00.000Z")), undefined);
  assert.equal(renewalProblem(thirty, new Date("2026-03-30T23:59:59.000Z")), undefined);
  assert.equal(renewalProblem(thirty, new Date("2026-03-31T00:00:00.000Z")), "the certificate expired at 2026-03-31T00:00:00.000Z; an expired certificate cannot renew itself (enroll again through a station)");
});

test("only device certificates renew themselves", () => {
  assert.deepEqual(RENEWAL.profiles, ["device"]);
  assert.equal(renewalProblem({ ...thirty, profile: "station" }, new Date("2026-03-25T00:00:00.000Z")), "a station certificate is not renewed through EST (certificate-policy.md §4.6)");
});

test("certificate-policy.md §4.6 states the window the code enforces", () => {
  const cp = readFileSync(join(REPO_ROOT, "certificate-policy.md"), "utf8");
  const section = cp.slice(cp.indexOf("### 4.6 Certificate renewal"), cp.indexOf("### 4.7"));
  assert.equal(RENEWAL.windowFraction, 1 / 3);
  assert.match(section, /at most a third of the certificate's validity remains \(a 30-day certificate from its 20th day/);
  assert.match(section, /`device` certificate/);
});
