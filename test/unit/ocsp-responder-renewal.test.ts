/** RFC 6960 §4.2.2.2: the delegated responder certificates are short-lived, so the responder renews them. */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { OcspResponder } from "../../ca/index.js";
import { FIXED_NOW, makeHome, reopen, tempDir } from "../helpers/pki.js";

const t = tempDir();
after(() => t.cleanup());
const DAY = 86_400_000;

test("responder certificates are issued once, kept while fresh, renewed with a third of their life left", async () => {
  const home = await makeHome(t.dir);
  await OcspResponder.open(home);
  const first = (await home.refresh()).responders!;
  assert.deepEqual(Object.keys(first).sort(), ["device", "firmware", "root"]);
  const device = first.device!;
  assert.equal(Date.parse(device.notAfter) - Date.parse(device.notBefore), 30 * DAY);

  // Day 15: two thirds of the life left, nothing changes.
  const later = await reopen(home, { clock: () => new Date(FIXED_NOW.getTime() + 15 * DAY) });
  const responder = await OcspResponder.open(later);
  assert.equal((await later.refresh()).responders!.device!.serial, device.serial);

  // Day 21: less than a third left: a new certificate, picked up by the running responder.
  const renewing = await reopen(home, { clock: () => new Date(FIXED_NOW.getTime() + 21 * DAY) });
  await OcspResponder.open(renewing);
  const renewed = (await renewing.refresh()).responders!.device!;
  assert.notEqual(renewed.serial, device.serial);
  assert.equal(renewed.notBefore, new Date(FIXED_NOW.getTime() + 21 * DAY).toISOString());

  // A follower (a worker of `serve --workers`) loads what the issuing process recorded, issuing nothing.
  await responder.loadIdentities(false);
  assert.equal((await later.refresh()).responders!.device!.serial, renewed.serial);
});
