/**
 * `ca move-key`: a CA moves to another copy of its own key (here a second file, as an imported
 * vault or token key would be), checked by public key and by a signature, audited; a different
 * key is refused and changes nothing.
 */
import assert from "node:assert/strict";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, tempDir } from "../helpers/pki.js";
import { expectError, expectOk, initCliHome, json, type TestHome } from "./cli-helpers.js";

describe("ca move-key", { timeout: 120_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let h: TestHome;
  before(() => {
    t = tempDir("trustline-move-key-");
    h = initCliHome(t.dir);
  });
  after(() => t.cleanup());

  const state = () => JSON.parse(readFileSync(join(h.home, "state.json"), "utf8")) as { cas: Record<string, { keyUri: string }> };

  test("another CA's key is refused (exit 2), nothing changes", () => {
    const before = readFileSync(join(h.home, "state.json"), "utf8");
    const e = expectError(runCli([...h.g, "--json", "ca", "move-key", "device", "--key", "file:keys/firmware.key.pem"]), 2, "USAGE");
    assert.match(e.message, /not CA "device"'s key: its public key differs/);
    assert.equal(readFileSync(join(h.home, "state.json"), "utf8"), before);
  });

  test("the same key URI is refused (exit 2)", () => {
    expectError(runCli([...h.g, "--json", "ca", "move-key", "device", "--key", "file:keys/device.key.pem"]), 2, "USAGE");
  });

  test("a copy of the CA's own key: the CA signs with it from then on, the move is audited and the trail verifies", () => {
    copyFileSync(join(h.home, "keys/device.key.pem"), join(h.home, "keys/device-moved.key.pem"));
    const r = runCli([...h.g, "--json", "ca", "move-key", "device", "--key", "file:keys/device-moved.key.pem"]);
    expectOk(r);
    const moved = json<Record<string, unknown>>(r);
    assert.deepEqual(moved, { ...moved, name: "device", keyUri: "file:keys/device-moved.key.pem", previousKeyUri: "file:keys/device.key.pem" });
    assert.equal(state().cas.device!.keyUri, "file:keys/device-moved.key.pem");
    // The old file is not used any more: remove it and the CA still signs (a CRL).
    copyFileSync(join(h.home, "keys/root.key.pem"), join(h.home, "keys/device.key.pem")); // the old path now holds a wrong key
    expectOk(runCli([...h.g, "--json", "crl", "--ca", "device", "--out", join(t.dir, "device.crl")]));
    const log = runCli([...h.g, "--json", "audit", "log"]);
    expectOk(log);
    const moves = log.stdout.split("\n").filter((l) => l.includes('"ca.move-key"')).map((l) => JSON.parse(l) as { ca: string; details: unknown });
    assert.deepEqual(moves.map((m) => [m.ca, m.details]), [["device", { from: "file:keys/device.key.pem", to: "file:keys/device-moved.key.pem" }]]);
    expectOk(runCli([...h.g, "--json", "audit", "verify"]));
  });
});
