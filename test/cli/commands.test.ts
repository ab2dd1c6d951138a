/**
 * The `trustline` commands as a production-line script or an auditor calls them: help, exit
 * statuses, --json documents and their effects on the file system and the inventory.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey, randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { openssl, opensslCsr, PASSPHRASE, runCli, tempDir, writeTemp } from "../helpers/pki.js";
import {
  asOperator,
  assertAuditIntact,
  auditLog,
  certList,
  countPemBlocks,
  describeRun,
  expectError,
  expectOk,
  HEX40,
  HEX64,
  initCliHome,
  json,
  pemToDer,
  runCliAsync,
  sha256Hex,
  type TestHome,
} from "./cli-helpers.js";

describe("trustline commands", { timeout: 180_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  let h: TestHome;
  /** A good OpenSSL CSR, reused where the request itself does not matter. */
  let okCsr: string;

  before(() => {
    ({ dir, cleanup } = tempDir("trustline-cli-cmd-"));
    h = initCliHome(dir);
    okCsr = opensslCsr(dir, "ok", "/CN=dev-ok-0001").csrPath;
  });
  after(() => cleanup());

  test("--help on every command and subcommand exits 0 with examples", async () => {
    const commands = [
      ["init"],
      ["ca", "list"],
      ["ca", "show"],
      ["ca", "export"],
      ["ca", "create"],
      ["issue", "device"],
      ["issue", "signer"],
      ["cert", "show"],
      ["cert", "list"],
      ["cert", "verify"],
      ["audit", "verify"],
      ["audit", "log"],
      ["ca", "issue-tls"],
      ["station", "add"],
      ["station", "list"],
      ["station", "disable"],
      ["station", "enable"],
    ];
    const results = await Promise.all(commands.map((c) => runCliAsync([...c, "--help"])));
    commands.forEach((c, i) => {
      const r = results[i]!;
      assert.equal(r.status, 0, `${c.join(" ")} --help:\n${describeRun(r)}`);
      assert.ok(r.stdout.includes("Examples:"), `${c.join(" ")} --help has no "Examples:"`);
      assert.ok(r.stdout.includes("$ trustline"), `${c.join(" ")} --help has no "$ trustline" example`);
      assert.ok(r.stdout.includes(`Usage: trustline ${c.join(" ")}`), `${c.join(" ")} --help shows its usage line`);
    });
    // The groups and the program itself list their commands and exit 0.
    const groups = [[], ["ca"], ["issue"], ["cert"], ["audit"], ["station"]];
    const gr = await Promise.all(groups.map((g) => runCliAsync([...g, "--help"])));
    groups.forEach((g, i) => {
      assert.equal(gr[i]!.status, 0, `${g.join(" ")} --help:\n${describeRun(gr[i]!)}`);
      assert.match(gr[i]!.stdout, /Commands:/);
    });
    assert.match(gr[0]!.stdout, /Exit status:/);
  });

  test("init on an existing home → exit 4 ALREADY_EXISTS, the home untouched", () => {
    const statePath = join(h.home, "state.json");
    const logPath = join(h.home, "audit", "log.jsonl");
    const state = readFileSync(statePath);
    const log = readFileSync(logPath);
    const keys = readdirSync(join(h.home, "keys")).map((f) => [f, readFileSync(join(h.home, "keys", f)).toString("base64")]);
    const r = runCli([...h.g, "--json", "init", "--org", "Evil Corp"]);
    const error = expectError(r, 4, "ALREADY_EXISTS");
    assert.match(error.message, /already exists/);
    assert.ok(Buffer.compare(readFileSync(statePath), state) === 0, "state.json changed");
    assert.ok(Buffer.compare(readFileSync(logPath), log) === 0, "the audit log changed");
    assert.deepEqual(
      readdirSync(join(h.home, "keys")).map((f) => [f, readFileSync(join(h.home, "keys", f)).toString("base64")]),
      keys,
      "the CA keys changed",
    );
  });

  test("wrong passphrase → exit 4 KEY_UNAVAILABLE, the passphrase never echoed, nothing issued, failure audited", async () => {
    const wrong = "Zebra-Wrong-Passphrase-7731";
    const wrongFile = writeTemp(dir, "wrong-pass.txt", `${wrong}\n`);
    const before = await certList(h);
    const auditBefore = await auditLog(h);

    const r = runCli(["--home", h.home, "--passphrase-file", wrongFile, "--json", "issue", "device", "--csr", okCsr]);
    const error = expectError(r, 4, "KEY_UNAVAILABLE");
    assert.match(error.message, /wrong passphrase/);
    // Same through the environment, in human mode (stderr).
    const r2 = runCli(["--home", h.home, "issue", "device", "--generate", "dev-wrongpass", "--out-dir", join(dir, "wrongpass")], {
      env: { TRUSTLINE_PASSPHRASE: wrong },
    });
    assert.equal(r2.status, 4, describeRun(r2));
    assert.match(r2.stderr, /wrong passphrase/);
    assert.match(r2.stderr, /\[KEY_UNAVAILABLE\]/);
    assert.equal(existsSync(join(dir, "wrongpass", "dev-wrongpass.key.pem")), false, "no key written");
    for (const out of [r.stdout, r.stderr, r2.stdout, r2.stderr]) {
      assert.equal(out.includes(wrong), false, `the wrong passphrase leaked: ${out}`);
      assert.equal(out.includes(PASSPHRASE), false, `the real passphrase leaked: ${out}`);
    }

    assert.deepEqual(await certList(h), before, "a certificate was issued");
    await assertAuditIntact(h);
    const auditAfter = await auditLog(h);
    const added = auditAfter.slice(auditBefore.length);
    // The passphrase is first needed to sign in (it opens the home's data key): the refusal is an auth.fail entry per attempt.
    assert.deepEqual(added.map((e) => [e.action, e.outcome, e.reason]), [["auth.fail", "rejected", "wrong-passphrase"], ["auth.fail", "rejected", "wrong-passphrase"]], JSON.stringify(added));
    assert.equal(added.filter((e) => e.action === "certificate.issue").length, 0);
    const rawLog = readFileSync(join(h.home, "audit", "log.jsonl"), "utf8");
    assert.equal(rawLog.includes(wrong), false, "the wrong passphrase is in the audit log");
    assert.equal(rawLog.includes(PASSPHRASE), false, "the passphrase is in the audit log");
  });

  test("no passphrase source (no file, no env, stdin not a TTY) → exit 4 PASSPHRASE_REQUIRED", async () => {
    const before = await certList(h);
    const r = runCli([...h.gNoPass, "--json", "issue", "device", "--csr", okCsr]);
    const error = expectError(r, 4, "PASSPHRASE_REQUIRED");
    assert.match(error.message, /--passphrase-file|TRUSTLINE_PASSPHRASE/);
    const r2 = runCli([...h.gNoPass, "--json", "issue", "device", "--generate", "dev-nopass", "--out-dir", join(dir, "nopass")], { env: { TRUSTLINE_PASSPHRASE: "" } });
    expectError(r2, 4, "PASSPHRASE_REQUIRED");
    assert.equal(existsSync(join(dir, "nopass", "dev-nopass.key.pem")), false, "no key written");
    assert.deepEqual(await certList(h), before, "a certificate was issued");
  });

  test("usage errors → exit 2", async () => {
    const before = await certList(h);
    const cases: { args: string[]; why: string }[] = [
      { args: ["issue", "device", "--csr", okCsr, "--bogus"], why: "unknown option" },
      { args: ["cert", "list", "--colour", "red"], why: "unknown option" },
      { args: ["issue", "signer", "--csr", okCsr], why: "missing required --name" },
      { args: ["init"], why: "missing required --org" },
      { args: ["ca", "create", "plant-x"], why: "missing required --profile" },
      { args: ["issue", "device", "--csr", okCsr, "--generate", "dev-both", "--out-dir", join(dir, "both")], why: "both --csr and --generate" },
      { args: ["issue", "device"], why: "neither --csr nor --generate" },
      { args: ["issue", "device", "--generate", "dev-nodir"], why: "--generate without --out-dir" },
      { args: ["cert", "show"], why: "missing argument" },
      { args: ["frobnicate"], why: "unknown command" },
    ];
    const results = await Promise.all(cases.map((c) => runCliAsync([...h.g, "--json", ...c.args])));
    cases.forEach((c, i) => {
      const r = results[i]!;
      assert.equal(r.status, 2, `${c.why} (${c.args.join(" ")}):\n${describeRun(r)}`);
      assert.equal(json<{ error: { code: string } }>(r).error.code, "USAGE", `${c.why}: --json error code`);
    });
    // Without --json: a message on stderr, nothing on stdout.
    const human = runCli([...h.g, "issue", "device", "--csr", okCsr, "--generate", "dev-both"]);
    assert.equal(human.status, 2);
    assert.equal(human.stdout, "");
    assert.match(human.stderr, /exactly one of --csr/);
    assert.equal(existsSync(join(dir, "both")), false, "no output folder created");
    assert.deepEqual(await certList(h), before, "a usage error issued a certificate");
  });

  test("issue device --out onto an existing file → exit 4 ALREADY_EXISTS and nothing issued; --force overwrites", async () => {
    const out = writeTemp(dir, "x.pem", "precious, do not overwrite\n");
    const before = await certList(h);
    const r = runCli([...h.g, "--json", "issue", "device", "--csr", okCsr, "--out", out]);
    const error = expectError(r, 4, "ALREADY_EXISTS");
    assert.ok(error.message.includes(out));
    assert.match(error.message, /--force/);
    assert.equal(readFileSync(out, "utf8"), "precious, do not overwrite\n");
    assert.equal((await certList(h)).length, before.length, "a certificate was issued though its output was refused");

    const forced = runCli([...h.g, "--json", "issue", "device", "--csr", okCsr, "--out", out, "--force"]);
    expectOk(forced);
    const doc = json(forced);
    assert.equal(countPemBlocks(readFileSync(out, "utf8")), 1);
    assert.equal(new X509Certificate(readFileSync(out)).serialNumber.toLowerCase(), doc.serial);
    assert.deepEqual(doc.files, { certificate: out });
    const list = await certList(h);
    assert.equal(list.length, before.length + 1);
    assert.ok(list.some((c) => c.serial === doc.serial));
  });

  test("issue device --generate writes key (0600), certificate and chain, and reports them in --json", async () => {
    const outDir = join(dir, "gen");
    const r = runCli([...h.g, "--json", "issue", "device", "--generate", "dev-0007", "--out-dir", outDir]);
    expectOk(r);
    const doc = json(r);
    const paths = { key: join(outDir, "dev-0007.key.pem"), certificate: join(outDir, "dev-0007.cert.pem"), chain: join(outDir, "dev-0007.chain.pem") };
    assert.match(doc.serial, HEX40);
    assert.equal(doc.ca, "device");
    assert.equal(doc.profile, "device");
    assert.equal(doc.commonName, "dev-0007");
    assert.equal(doc.keySource, "generated");
    assert.deepEqual(doc.files, paths);
    assert.equal("privateKeyPem" in doc, false, "the private key is not printed");
    assert.equal(r.stdout.includes("PRIVATE KEY"), false, "the private key is not on stdout");

    const keyPem = readFileSync(paths.key, "utf8");
    assert.match(keyPem, /-----BEGIN PRIVATE KEY-----/);
    assert.equal(statSync(paths.key).mode & 0o777, 0o600, "key file mode");
    const cert = new X509Certificate(readFileSync(paths.certificate));
    assert.equal(countPemBlocks(readFileSync(paths.certificate, "utf8")), 1);
    assert.equal(cert.serialNumber.toLowerCase(), doc.serial);
    assert.match(cert.subject, /CN=dev-0007/);
    assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)), "the key matches the certificate");
    const chainText = readFileSync(paths.chain, "utf8");
    assert.equal(countPemBlocks(chainText), 2, "chain = leaf + device CA");
    const blocks = chainText.split(/(?=-----BEGIN CERTIFICATE-----)/);
    assert.equal(new X509Certificate(blocks[0]!).serialNumber, cert.serialNumber, "the chain starts with the leaf");
    const deviceCa = new X509Certificate(blocks[1]!);
    assert.match(deviceCa.subject, /CN=Acme Devices device CA/);
    assert.ok(cert.verify(deviceCa.publicKey), "the leaf is signed by the device CA in the chain");

    // Again into the same folder: refused before anything is issued.
    const count = (await certList(h)).length;
    const again = runCli([...h.g, "--json", "issue", "device", "--generate", "dev-0007", "--out-dir", outDir]);
    expectError(again, 4, "ALREADY_EXISTS");
    assert.equal(readFileSync(paths.key, "utf8"), keyPem, "the key was overwritten");
    assert.equal((await certList(h)).length, count, "a certificate was issued though its outputs were refused");
  });

  test("cert show: serial in upper case, lower case, with colons, or a certificate file; unknown → exit 3", async () => {
    const certPath = join(dir, "show.pem");
    const issued = runCli([...h.g, "--json", "issue", "device", "--csr", opensslCsr(dir, "show", "/CN=dev-show-0001").csrPath, "--out", certPath]);
    expectOk(issued);
    const serial: string = json(issued).serial;
    assert.match(serial, HEX40);
    const colons = serial.toUpperCase().match(/../g)!.join(":");
    const queries = [serial.toUpperCase(), serial, colons, certPath];
    const results = await Promise.all(queries.map((q) => runCliAsync([...h.gNoPass, "--json", "cert", "show", q])));
    results.forEach((r, i) => {
      expectOk(r);
      const t = json(r);
      assert.equal(t.serial, serial, `cert show ${queries[i]}`);
      assert.equal(t.commonName, "dev-show-0001");
      assert.equal(t.ca, "device");
      assert.equal(t.profile, "device");
      assert.equal(t.status, "valid");
    });

    let unknown = randomBytes(20).toString("hex");
    unknown = `1${unknown.slice(1)}`;
    const [u, nonHex, foreign] = await Promise.all([
      runCliAsync([...h.gNoPass, "--json", "cert", "show", unknown]),
      runCliAsync([...h.gNoPass, "--json", "cert", "show", "not-a-serial-nor-a-file"]),
      (async () => {
        // A certificate this home never issued.
        const other = join(dir, "foreign.pem");
        const made = openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "foreign.key"), "-subj", "/CN=foreign", "-days", "1", "-out", other]);
        assert.equal(made.status, 0, made.stderr);
        return runCliAsync([...h.gNoPass, "--json", "cert", "show", other]);
      })(),
    ]);
    expectError(u, 3, "NOT_FOUND");
    assert.equal(nonHex.status, 3, describeRun(nonHex));
    assert.ok(json(nonHex).error, "a JSON error");
    expectError(foreign, 3, "NOT_FOUND");
  });

  describe("cert list --json", () => {
    /** Three certificates: two by alice at line-7 in batch B-2026-11, one by bob at line-9 (passphrase from the env). */
    const issued: { serial: string; cn: string; csr: Uint8Array }[] = [];
    before(() => {
      const csrs = ["dev-list-0001", "dev-list-0002", "dev-list-0003"].map((cn) => ({ cn, ...opensslCsr(dir, cn, `/CN=${cn}`) }));
      for (const [i, c] of csrs.entries()) {
        // Global --operator/--station go before the subcommand.
        const who = i < 2 ? ["--operator", "alice", "--station", "line-7"] : [...asOperator(h, "bob"), "--station", "line-9"];
        const batch = i < 2 ? ["--batch", "B-2026-11"] : [];
        const r =
          i < 2
            ? runCli([...h.g, ...who, "--json", "issue", "device", "--csr", c.csrPath, ...batch])
            : runCli([...h.gNoPass, ...who, "--json", "issue", "device", "--csr", c.csrPath, ...batch], { env: { TRUSTLINE_PASSPHRASE: PASSPHRASE } });
        expectOk(r);
        issued.push({ serial: json(r).serial, cn: c.cn, csr: c.csr });
      }
    });
    const sorted = (xs: { serial: string }[]) => xs.map((x) => x.serial).sort();

    test("each record carries the trace: serial, operator, station, batch, request hash, policy OIDs", async () => {
      const all = await certList(h);
      for (const [i, c] of issued.entries()) {
        const rec = all.find((r) => r.serial === c.serial);
        assert.ok(rec, `record ${c.serial} listed`);
        assert.match(rec.serial, HEX40);
        assert.equal(rec.commonName, c.cn);
        assert.equal(rec.ca, "device");
        assert.equal(rec.profile, "device");
        assert.equal(rec.operator, i < 2 ? "alice" : "bob");
        assert.equal(rec.station, i < 2 ? "line-7" : "line-9");
        assert.equal(rec.batch, i < 2 ? "B-2026-11" : null);
        assert.match(rec.requestSha256, HEX64);
        assert.equal(rec.requestSha256, sha256Hex(pemToDer(c.csr)), "requestSha256 = SHA-256 of the CSR's DER");
        assert.ok(Array.isArray(rec.policyOids) && rec.policyOids.length > 0 && rec.policyOids.every((o) => /^\d+(\.\d+)+$/.test(o)), `policyOids: ${rec.policyOids}`);
        assert.equal(rec.keySource, "csr");
        assert.equal("der" in rec, false, "cert list does not dump the DER");
      }
      for (const rec of all) {
        assert.match(rec.serial, HEX40);
        assert.match(rec.requestSha256, HEX64);
        assert.equal(typeof rec.operator, "string");
        assert.equal(typeof rec.station, "string");
      }
    });

    test("--batch, --ca, --status valid, --expiring-within 1 / 4000", async () => {
      const [all, byBatch, byCaDevice, byCaFirmware, valid, within1, within4000] = await Promise.all([
        certList(h),
        certList(h, ["--batch", "B-2026-11"]),
        certList(h, ["--ca", "device"]),
        certList(h, ["--ca", "firmware"]),
        certList(h, ["--status", "valid"]),
        certList(h, ["--expiring-within", "1"]),
        certList(h, ["--expiring-within", "4000"]),
      ]);
      const [s1, s2, s3] = issued.map((c) => c.serial) as [string, string, string];
      assert.deepEqual(sorted(byBatch), [s1, s2].sort());
      assert.ok(byCaDevice.every((c) => c.ca === "device"));
      for (const s of [s1, s2, s3]) assert.ok(byCaDevice.some((c) => c.serial === s), `--ca device lacks ${s}`);
      assert.deepEqual(sorted(byCaDevice), sorted(all.filter((c) => c.ca === "device")));
      assert.ok(byCaFirmware.every((c) => c.ca === "firmware"));
      assert.equal(byCaFirmware.some((c) => c.profile === "device"), false);
      assert.ok(valid.every((c) => c.status === "valid"));
      assert.equal(valid.length, all.length, "everything issued minutes ago is valid");
      assert.deepEqual(within1, []);
      const devices = all.filter((c) => c.profile === "device");
      assert.ok(devices.length >= 3);
      for (const d of devices) assert.ok(within4000.some((c) => c.serial === d.serial), `--expiring-within 4000 lacks device certificate ${d.serial}`);
      assert.equal(within4000.some((c) => c.profile === "root-ca"), false, "the 20-year root does not expire within 4000 days");
    });

    test("--station and --operator (the list's own filters, after the subcommand) select by where and who issued", async () => {
      const [byStation, byOperator, byBoth] = await Promise.all([
        certList(h, ["--station", "line-7"]),
        certList(h, ["--operator", "bob"]),
        certList(h, ["--operator", "alice", "--station", "line-9"]),
      ]);
      const [s1, s2, s3] = issued.map((c) => c.serial) as [string, string, string];
      assert.deepEqual(sorted(byStation), [s1, s2].sort(), "cert list --station line-7");
      assert.deepEqual(sorted(byOperator), [s3], "cert list --operator bob");
      assert.deepEqual(byBoth, [], "cert list --operator alice --station line-9");
    });
  });

  test("ca list, ca export (PEM, chain), ca create + issue under it (OpenSSL verifies), ca create --profile root-ca → exit 2", async () => {
    const listed = json<{ name: string; profile: string; parent: string | null }[]>(runCli([...h.gNoPass, "--json", "ca", "list"]));
    const profileOf = (n: string) => listed.find((c) => c.name === n)?.profile;
    assert.equal(profileOf("root"), "root-ca");
    assert.equal(profileOf("device"), "device-ca");
    assert.equal(profileOf("firmware"), "firmware-ca");

    const rootPem = join(dir, "r.pem");
    const [exp, chain] = await Promise.all([
      runCliAsync([...h.gNoPass, "ca", "export", "root", "--out", rootPem]),
      runCliAsync([...h.gNoPass, "ca", "export", "device", "--chain"]),
    ]);
    expectOk(exp);
    const subj = openssl(["x509", "-noout", "-subject", "-in", rootPem]);
    assert.equal(subj.status, 0, subj.stderr);
    assert.equal(subj.stdout.trim(), "subject=O = Acme Devices, CN = Acme Devices root CA");
    expectOk(chain);
    assert.equal(countPemBlocks(chain.stdout), 2, "device CA + root");

    const created = runCli([...h.g, "--json", "ca", "create", "plant-lyon", "--profile", "device-ca"]);
    expectOk(created);
    assert.equal(json(created).name, "plant-lyon");
    assert.equal(json(created).profile, "device-ca");
    const leafPath = join(dir, "lyon-dev.pem");
    const issued = runCli([...h.g, "--json", "issue", "device", "--csr", opensslCsr(dir, "lyon", "/CN=dev-lyon-0001").csrPath, "--ca", "plant-lyon", "--out", leafPath]);
    expectOk(issued);
    assert.equal(json(issued).ca, "plant-lyon");
    const lyonPem = join(dir, "plant-lyon.pem");
    expectOk(runCli([...h.gNoPass, "ca", "export", "plant-lyon", "--out", lyonPem]));
    const ok = openssl(["verify", "-CAfile", rootPem, "-untrusted", lyonPem, leafPath]);
    assert.equal(ok.status, 0, `openssl verify: ${ok.stdout}${ok.stderr}`);
    assert.match(ok.stdout, /: OK/);
    // The referee is not a rubber stamp: the wrong intermediate does not verify.
    const deviceCaPem = writeTemp(dir, "device-ca.pem", chain.stdout);
    const wrong = openssl(["verify", "-CAfile", rootPem, "-untrusted", deviceCaPem, leafPath]);
    assert.notEqual(wrong.status, 0);

    const refused = runCli([...h.g, "--json", "ca", "create", "evil-root", "--profile", "root-ca"]);
    assert.equal(refused.status, 2, describeRun(refused));
    assert.equal(json(refused).error.code, "USAGE");
    const after = json<{ name: string }[]>(runCli([...h.gNoPass, "--json", "ca", "list"]));
    assert.equal(after.some((c) => c.name === "evil-root"), false);
    assert.ok(after.some((c) => c.name === "plant-lyon"));
  });

  test("issue signer: firmware-signer from CA firmware; --ca device → exit 3 POLICY_DENIED (ISSUER_NOT_ALLOWED)", async () => {
    const { csrPath } = opensslCsr(dir, "signer", "/CN=whatever the requester wrote");
    const r = runCli([...h.g, "--json", "issue", "signer", "--csr", csrPath, "--name", "ci-pipeline"]);
    expectOk(r);
    const doc = json(r);
    assert.equal(doc.profile, "firmware-signer");
    assert.equal(doc.ca, "firmware");
    assert.equal(doc.commonName, "ci-pipeline");
    assert.match(doc.serial, HEX40);
    assert.ok(doc.policyOids.length > 0);

    const before = await certList(h);
    const denied = runCli([...h.g, "--json", "issue", "signer", "--csr", csrPath, "--name", "ci-pipeline", "--ca", "device"]);
    const error = expectError(denied, 3, "POLICY_DENIED");
    assert.ok(
      (error.details?.violations ?? []).some((v: { code: string }) => v.code === "ISSUER_NOT_ALLOWED"),
      `violations: ${JSON.stringify(error.details)}`,
    );
    assert.deepEqual(await certList(h), before, "nothing issued");
    await assertAuditIntact(h);
  });
});
