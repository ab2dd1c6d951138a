/**
 * The scanner that proves a home holds no private key (issue 15's acceptance) must itself be able
 * to fail: it finds the encrypted keys of a file-backed home, and every form of a planted plain key.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { findPrivateKeyMaterial } from "../helpers/private-key-scan.js";
import { makeHome, tempDir } from "../helpers/pki.js";

describe("the private-key scanner", () => {
  let t: ReturnType<typeof tempDir>;
  before(() => (t = tempDir("trustline-keyscan-")));
  after(() => t.cleanup());

  test("a file-backed home: every encrypted key file is found, and nothing else", async () => {
    const home = await makeHome(join(t.dir, "home"));
    const findings = findPrivateKeyMaterial(home.dir);
    const files = [...new Set(findings.map((f) => f.file))].sort();
    assert.deepEqual(files, ["keys/audit.key.pem", "keys/device.key.pem", "keys/firmware.key.pem", "keys/root.key.pem"]);
    assert.ok(findings.every((f) => f.what === "PEM ENCRYPTED PRIVATE KEY block" || f.what === "PKCS#8 encrypted private key"), JSON.stringify(findings));
  });

  test("plain keys planted in any form are found: PEM, DER, base64 inside JSON, SEC1, PKCS#1", () => {
    const dir = join(t.dir, "planted");
    mkdirSync(dir);
    const ec256 = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const ec384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey;
    const rsa = generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey;
    writeFileSync(join(dir, "a.pem"), ec256.export({ type: "pkcs8", format: "pem" }));
    writeFileSync(join(dir, "b.der"), ec384.export({ type: "pkcs8", format: "der" }));
    writeFileSync(join(dir, "c.json"), JSON.stringify({ hidden: rsa.export({ type: "pkcs8", format: "der" }).toString("base64") }));
    writeFileSync(join(dir, "d.der"), ec256.export({ type: "sec1", format: "der" }));
    writeFileSync(join(dir, "e.json"), JSON.stringify({ k: rsa.export({ type: "pkcs1", format: "der" }).toString("base64url") }));
    const byFile = Object.fromEntries(["a.pem", "b.der", "c.json", "d.der", "e.json"].map((f) => [f, findPrivateKeyMaterial(dir).filter((x) => x.file === f).map((x) => x.what)]));
    assert.ok(byFile["a.pem"]!.includes("PEM PRIVATE KEY block") && byFile["a.pem"]!.includes("PKCS#8 EC private key"), JSON.stringify(byFile));
    assert.ok(byFile["b.der"]!.includes("PKCS#8 EC private key (P-384 parameters)") || byFile["b.der"]!.includes("PKCS#8 EC private key"), JSON.stringify(byFile));
    assert.ok(byFile["c.json"]!.includes("PKCS#8 RSA private key"), JSON.stringify(byFile));
    assert.ok(byFile["d.der"]!.includes("SEC1 EC private key (P-256)"), JSON.stringify(byFile));
    assert.ok(byFile["e.json"]!.includes("PKCS#1 RSA private key"), JSON.stringify(byFile));
  });
});
