/**
 * Batch outputs never overwrite and never lose: two requests never share an output file, an
 * existing file or a planted link is never written through, names the file system cannot take are
 * refused before anything is signed, names are printed escaped, a duplicate request is said, a
 * lost resume index is rebuilt (no request issued twice), and the CSR folder cannot be the output.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createCsr } from "../../ca/index.js";
import { tempDir } from "../helpers/pki.js";
import { certList, describeRun, expectError, initCliHome, json, runCliAsync, type TestHome } from "../cli/cli-helpers.js";

const csr = (cn: string) => createCsr(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, cn);

describe("batch outputs never overwrite or lose", () => {
  let dir: string;
  let cleanup: () => void;
  let h: TestHome;
  let n = 0;
  const f = (...p: string[]) => join(dir, ...p);
  /** A fresh CSR folder with `files` (name -> DER), and a run of `issue batch` on it. */
  const folder = (files: Record<string, Uint8Array>): string => {
    const d = f(`in-${++n}`);
    mkdirSync(d);
    for (const [name, der] of Object.entries(files)) writeFileSync(join(d, name), der);
    return d;
  };
  const batch = (inDir: string, outDir: string, id: string, json = true) =>
    runCliAsync([...h.g, ...(json ? ["--json"] : []), "issue", "batch", "--csr-dir", inDir, "--out-dir", outDir, "--batch", id]);

  before(() => {
    ({ dir, cleanup } = tempDir("trustline-batch-outputs-"));
    h = initCliHome(dir);
  });
  after(() => cleanup());

  test("a.csr and a.der both map to a.pem: the second is refused before it is signed", async () => {
    const inDir = folder({ "a.csr": csr("dev-same-a1"), "a.der": csr("dev-same-a2"), "b.csr": csr("dev-same-b") });
    const before = (await certList(h)).length;
    const r = await batch(inDir, f("out-same"), "B-SAME");
    assert.equal(r.status, 3, describeRun(r));
    const doc = json(r);
    assert.equal(doc.issued, 2);
    assert.equal(doc.rejected.length, 1);
    assert.match(doc.rejected[0].message, /another request of this batch writes a\.pem/);
    assert.equal((await certList(h)).length, before + 2, "the refused request was not signed");
    assert.deepEqual(readdirSync(f("out-same")).sort(), ["a.pem", "b.pem"]);
  });

  test("the CSR folder as the output folder is a usage error (exit 2), nothing issued", async () => {
    const inDir = folder({ "c.csr": csr("dev-inout-c") });
    const before = (await certList(h)).length;
    expectError(await batch(inDir, inDir, "B-INOUT"), 2, "USAGE");
    expectError(await batch(inDir, join(inDir, ".", "..", `in-${n}`), "B-INOUT"), 2, "USAGE");
    assert.equal((await certList(h)).length, before);
    assert.deepEqual(readdirSync(inDir), ["c.csr"]);
  });

  test("a symbolic link planted in the output folder is never written through", async () => {
    const inDir = folder({ "x.csr": csr("dev-link-x"), "y.csr": csr("dev-link-y") });
    const out = f("out-link");
    mkdirSync(out);
    writeFileSync(f("outside.txt"), "precious\n");
    symlinkSync(f("outside.txt"), join(out, "x.pem"));
    const r = await batch(inDir, out, "B-LINK");
    assert.equal(r.status, 3, describeRun(r));
    const doc = json(r);
    assert.equal(doc.issued, 1);
    assert.match(doc.rejected[0].message, /x\.pem already exists .* never overwritten/);
    assert.equal(readFileSync(f("outside.txt"), "utf8"), "precious\n");
  });

  test("a 253-character name is refused on its own, and the re-run is not aborted by it", async () => {
    const long = "d".repeat(253);
    const inDir = folder({ [long]: csr("dev-long-1"), "ok.csr": csr("dev-long-ok") });
    for (let run = 0; run < 2; run++) {
      const r = await batch(inDir, f("out-long"), "B-LONG");
      assert.equal(r.status, 3, describeRun(r));
      const doc = json(r);
      assert.equal(doc.issued + doc.skipped, 1);
      assert.match(doc.rejected[0].message, /too long/);
    }
  });

  test("a newline in a file name cannot inject lines into the summary", async () => {
    const evil = "bad\n    dev-000001.csr: [OK] issued.csr";
    const inDir = folder({ [evil]: Buffer.from("not a CSR") });
    const r = await batch(inDir, f("out-evil"), "B-EVIL", false);
    assert.equal(r.status, 3, describeRun(r));
    assert.match(r.stdout, /bad\\x0a {4}dev-000001\.csr/);
    assert.equal(r.stdout.split("\n").filter((l) => l.includes("dev-000001.csr")).length, 1);
  });

  test("the same request under two names: one certificate, a summary line, and an output for each name", async () => {
    const same = csr("dev-twice");
    const inDir = folder({ "one.csr": same, "two.csr": same });
    const r = await batch(inDir, f("out-twice"), "B-TWICE");
    assert.equal(r.status, 0, describeRun(r));
    const doc = json(r);
    assert.equal(doc.issued, 1);
    assert.equal(doc.duplicates.length, 1);
    assert.equal(readFileSync(f("out-twice", "one.pem"), "utf8"), readFileSync(f("out-twice", "two.pem"), "utf8"));
  });

  test("a lost batch index is rebuilt: the re-run issues nothing twice", async () => {
    const inDir = folder(Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`r${i}.csr`, csr(`dev-resume-${i}`)])));
    assert.equal(json(await batch(inDir, f("out-resume"), "B-RESUME")).issued, 5);
    const index = join(h.home, "inventory", "index");
    for (const file of readdirSync(index)) if (file.startsWith("batch-B-RESUME")) rmSync(join(index, file));
    const again = json(await batch(inDir, f("out-resume"), "B-RESUME"));
    assert.deepEqual([again.issued, again.skipped], [0, 5]);
    assert.equal((await certList(h, ["--batch", "B-RESUME"])).length, 5);
    assert.ok(existsSync(join(index, "batch-B-RESUME.idx")));
  });

  test("on a re-run, an output replaced by someone's file is left alone and reported (exit 4, DELIVERY_FAILED)", async () => {
    const inDir = folder({ "p.csr": csr("dev-replaced-p") });
    assert.equal(json(await batch(inDir, f("out-replaced"), "B-REPLACED")).issued, 1);
    writeFileSync(f("out-replaced", "p.pem"), "the operator's own notes\n");
    const r = await batch(inDir, f("out-replaced"), "B-REPLACED");
    assert.equal(r.status, 4, describeRun(r));
    const doc = json(r);
    assert.equal(doc.notDelivered.length, 1);
    assert.match(doc.notDelivered[0].reason, /holds something else; not overwritten/);
    assert.equal(readFileSync(f("out-replaced", "p.pem"), "utf8"), "the operator's own notes\n");
  });
});
