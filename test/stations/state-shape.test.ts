/** state.json's `stations` and `tlsServer` fields: a damaged one is STORE_CORRUPT naming the field, never an internal error. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { addStation, Home, issueTlsCertificate, listStations } from "../../ca/index.js";
import { fixedClock, makeHome, PASSPHRASE, tempDir } from "../helpers/pki.js";

const t = tempDir("trustline-station-shape-");
let dir: string;
let pristine: string;
const open = () => Home.open({ home: dir, passphrase: async () => PASSPHRASE, clock: fixedClock });

before(async () => {
  const home = await makeHome(t.dir);
  await addStation(home, "line-1");
  await issueTlsCertificate(home, { hosts: ["est.acme.example"] });
  dir = home.dir;
  await home.close();
  pristine = readFileSync(join(dir, "state.json"), "utf8");
});
after(() => t.cleanup());

async function refusedWith(change: (state: any) => void, problem: string): Promise<void> {
  const state = JSON.parse(pristine);
  change(state);
  writeFileSync(join(dir, "state.json"), JSON.stringify(state));
  try {
    await assert.rejects(open(), (e: any) => {
      assert.equal(e.code, "STORE_CORRUPT", e.message);
      assert.equal(e.details.problem, problem);
      assert.match(e.message, /restore it from a backup/);
      return true;
    });
  } finally {
    writeFileSync(join(dir, "state.json"), pristine);
  }
}

test("the intact state opens, with its station and TLS server", async () => {
  const home = await open();
  assert.deepEqual(listStations(home).map((s) => [s.name, s.status]), [["line-1", "active"]]);
  assert.deepEqual(home.state.tlsServer!.hosts, ["est.acme.example"]);
  await home.close();
});

test("a damaged stations field is STORE_CORRUPT naming it", async () => {
  await refusedWith((s) => (s.stations = []), "state.stations is not an object");
  await refusedWith((s) => (s.stations = "line-1"), "state.stations is not an object");
  await refusedWith((s) => (s.stations["line-1"] = null), "state.stations.line-1 is not an object");
  await refusedWith((s) => (s.stations["line-1"].status = "paused"), "state.stations.line-1.status is not one of active, disabled");
  await refusedWith((s) => (s.stations["line-1"].serial = 42), "state.stations.line-1.serial is not text");
  await refusedWith((s) => delete s.stations["line-1"].createdBy, "state.stations.line-1.createdBy is not text");
  await refusedWith((s) => (s.stations["line-1"].disabledAt = false), "state.stations.line-1.disabledAt is not text");
});

test("a damaged tlsServer field is STORE_CORRUPT naming it", async () => {
  await refusedWith((s) => (s.tlsServer = "yes"), "state.tlsServer is not an object");
  await refusedWith((s) => (s.tlsServer.hosts = "est.acme.example"), "state.tlsServer.hosts is not a list");
  await refusedWith((s) => (s.tlsServer.hosts = [7]), "state.tlsServer.hosts[0] is not text");
  await refusedWith((s) => (s.tlsServer.keyAlgorithm = "ed25519"), "state.tlsServer.keyAlgorithm is not one of p256, p384, rsa2048, rsa3072, rsa4096");
  await refusedWith((s) => delete s.tlsServer.keyUri, "state.tlsServer.keyUri is not text");
});
