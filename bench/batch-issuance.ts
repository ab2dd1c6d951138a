/**
 * Production-line scale (issue 3):
 *  (a) batch issuance of 10,000 P-256 device certificates from CSR files, end to end (CLI process
 *      start to exit: parse, verify, policy, sign, persist, write files), against an
 *      `openssl x509 -req` loop and against naive @peculiar/x509 issuance, measured here and now;
 *  (b) one `trustline issue device` CLI call, with an empty inventory and with 1,000,000 records;
 *  (c) peak RSS of each.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createCsr, toPem, type CertificateRecord, newKeyPair, secretOfOtpauthUri, totp } from "../ca/index.js";
import { FileInventory } from "../ca/store/file-inventory.js";
import { CLI, flushDirtyPages, fmt, median, type Row, runNode, runSync } from "./harness.js";

const PASS = "bench passphrase";

function writeCsrs(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const { privateKey } = newKeyPair("ec", { namedCurve: "P-256" });
    const id = `dev-${String(i).padStart(6, "0")}`;
    writeFileSync(join(dir, `${id}.csr`), toPem(createCsr(privateKey, id), "CERTIFICATE REQUEST"));
  }
}

/** `trustline init`, then the first admin (every writing role) opens a shift session: later commands on this home sign in with it. */
export async function initHome(home: string, passFile: string): Promise<void> {
  const r = await runNode([CLI, "--home", home, "--passphrase-file", passFile, "--operator", "bench", "--json", "init", "--org", "Bench Devices", "--roles", "admin,officer,issuer"]);
  if (r.status !== 0) throw new Error(`init failed: ${r.stderr}`);
  const uri = (JSON.parse(r.stdout) as { firstAdmin: { otpauthUri: string } }).firstAdmin.otpauthUri;
  const login = await runNode([CLI, "--home", home, "--passphrase-file", passFile, "--operator", "bench", "login", "--totp", totp(secretOfOtpauthUri(uri), new Date())]);
  if (login.status !== 0) throw new Error(`login failed: ${login.stderr}`);
}

/** openssl's own CA: one process per certificate, as a shell loop on a line station does it. */
function opensslLoop(dir: string, csrDir: string, count: number): number {
  const ca = join(dir, "openssl-ca");
  mkdirSync(ca, { recursive: true });
  runSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(ca, "ca.key"), "-subj", "/CN=openssl bench CA", "-days", "30", "-out", join(ca, "ca.pem")]);
  const files = readdirSync(csrDir).slice(0, count);
  const started = performance.now();
  for (const f of files) {
    const r = runSync("openssl", ["x509", "-req", "-in", join(csrDir, f), "-CA", join(ca, "ca.pem"), "-CAkey", join(ca, "ca.key"), "-CAcreateserial", "-days", "365", "-sha256", "-out", join(ca, `${f}.pem`)]);
    if (r.status !== 0) throw new Error(r.stderr);
  }
  return files.length / ((performance.now() - started) / 1000);
}

/** The obvious library approach: @peculiar/x509 parse + verify + generate + sign (WebCrypto), per certificate. */
async function naivePeculiar(dir: string, csrDir: string, count: number): Promise<number> {
  const out = join(dir, "peculiar-out");
  mkdirSync(out, { recursive: true });
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const caKeys = await crypto.subtle.generateKey(alg, false, ["sign", "verify"]);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({ name: "CN=naive CA", keys: caKeys, signingAlgorithm: alg, extensions: [new x509.BasicConstraintsExtension(true, 0, true)] });
  const files = readdirSync(csrDir).slice(0, count);
  const started = performance.now();
  for (const f of files) {
    const csr = new x509.Pkcs10CertificateRequest(readFileSync(join(csrDir, f), "utf8"));
    if (!(await csr.verify())) throw new Error("bad CSR");
    const cert = await x509.X509CertificateGenerator.create({
      subject: csr.subject,
      issuer: caCert.subject,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 365 * 86_400_000),
      publicKey: csr.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
      ],
    });
    writeFileSync(join(out, `${f}.pem`), cert.toString("pem"));
  }
  return files.length / ((performance.now() - started) / 1000);
}

/** Synthetic inventory records `start`..`end` (exclusive): random-looking 20-byte serials, as issued ones are. */
export function syntheticRecords(start: number, end: number, vary: (i: number) => Partial<CertificateRecord> = () => ({})): CertificateRecord[] {
  const base: Omit<CertificateRecord, "serial" | "commonName" | "subject"> = {
    ca: "device",
    profile: "device",
    policyOids: ["2.25.206301899026611410302643436773021168975.1.1"],
    notBefore: "2026-01-01T00:00:00.000Z",
    notAfter: "2036-01-01T00:00:00.000Z",
    der: "MIIB".padEnd(700, "A"),
    requestSha256: "0".repeat(64),
    keySource: "csr",
    operator: "seed",
    station: "seed",
    batch: null,
    issuedAt: "2026-01-01T00:00:00.000Z",
  };
  const records: CertificateRecord[] = [];
  for (let i = start; i < end; i++) {
    const h = createHash("sha256").update(String(i)).digest();
    h[0] = h[0]! & 0x7f || 1;
    records.push({ ...base, serial: h.toString("hex", 0, 20), commonName: `seed-${i}`, subject: `CN=seed-${i}`, ...vary(i) });
  }
  return records;
}

/** `count` records straight into the inventory (the seed of a large home); `vary` changes each one. */
export async function seedInventory(home: string, count: number, vary: (i: number) => Partial<CertificateRecord> = () => ({})): Promise<void> {
  const inv = new FileInventory(join(home, "inventory"));
  const group = 20_000;
  for (let start = 0; start < count; start += group) await inv.putCertificates(syntheticRecords(start, Math.min(count, start + group), vary));
}

const BATCH_RUNS = 5;

/** `trustline issue batch` over the folder into a fresh home, BATCH_RUNS times: median rate, peak RSS. */
async function timedBatches(dir: string, csrDir: string, passFile: string, certs: number): Promise<{ rate: number; maxRssKb: number }> {
  const rates: number[] = [];
  let maxRssKb = 0;
  for (let run = 1; run <= BATCH_RUNS; run++) {
    const home = join(dir, `pki-batch-${run}`);
    await initHome(home, passFile);
    flushDirtyPages();
    const batch = await runNode([CLI, "--home", home, "--passphrase-file", passFile, "--json", "issue", "batch", "--csr-dir", csrDir, "--out-dir", join(dir, `out-${run}`), "--batch", "BENCH"]);
    if (batch.status !== 0) throw new Error(`batch failed: ${batch.stdout} ${batch.stderr}`);
    const summary = JSON.parse(batch.stdout) as { issued: number };
    if (summary.issued !== certs) throw new Error(`batch issued ${summary.issued} of ${certs}`);
    rates.push(certs / (batch.wallMs / 1000));
    maxRssKb = Math.max(maxRssKb, batch.maxRssKb);
    console.error(`[batch]   run ${run}: ${fmt(rates.at(-1)!)} certs/s`);
  }
  return { rate: median(rates), maxRssKb };
}

async function oneIssuance(home: string, passFile: string, csr: string, runs: number): Promise<{ wallMs: number; maxRssKb: number }> {
  const walls: number[] = [];
  let rss = 0;
  for (let i = 0; i < runs; i++) {
    const r = await runNode([CLI, "--home", home, "--passphrase-file", passFile, "issue", "device", "--csr", csr, "--json"]);
    if (r.status !== 0) throw new Error(`issue device failed: ${r.stdout} ${r.stderr}`);
    walls.push(r.wallMs);
    rss = Math.max(rss, r.maxRssKb);
  }
  return { wallMs: median(walls), maxRssKb: rss };
}

export async function batchIssuanceBench(dir: string, options: { certs: number; seed: number }): Promise<Row[]> {
  const passFile = join(dir, "pass");
  writeFileSync(passFile, PASS);
  const csrDir = join(dir, "csrs");
  console.error(`[batch] writing ${options.certs} CSR files (distinct P-256 keys)…`);
  writeCsrs(csrDir, options.certs);

  flushDirtyPages();
  console.error("[batch] baseline: openssl x509 -req loop (200 certificates)…");
  const opensslRate = opensslLoop(dir, csrDir, 200);
  flushDirtyPages();
  console.error("[batch] baseline: naive @peculiar/x509 issuance (500 certificates)…");
  const naiveRate = await naivePeculiar(dir, csrDir, 500);

  console.error(`[batch] trustline issue batch: ${options.certs} certificates, median of ${BATCH_RUNS} runs…`);
  const onDisk = await timedBatches(dir, csrDir, passFile, options.certs);
  const rate = onDisk.rate;

  // The same batch with the home and the outputs in memory (tmpfs), where one exists: what the
  // pipeline itself sustains once the file system's cost of creating 10,000 files is taken away.
  let memoryRate: number | undefined;
  if (existsSync("/dev/shm") && statfsSync("/dev/shm").bavail * statfsSync("/dev/shm").bsize > 512 * 1024 * 1024) {
    console.error("[batch] the same batch with home and outputs on tmpfs…");
    const shm = mkdtempSync("/dev/shm/trustline-bench-");
    try {
      memoryRate = (await timedBatches(shm, csrDir, passFile, options.certs)).rate;
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  }

  console.error("[cli] one issue device, empty inventory…");
  const single = join(dir, "pki-single");
  await initHome(single, passFile);
  const csr = join(csrDir, readdirSync(csrDir)[0]!);
  flushDirtyPages();
  const empty = await oneIssuance(single, passFile, csr, 7);
  console.error(`[cli] seeding ${fmt(options.seed)} records…`);
  const seedStart = performance.now();
  await seedInventory(single, options.seed);
  console.error(`[cli] seeded in ${fmt((performance.now() - seedStart) / 1000, 1)} s; one issue device, full inventory…`);
  flushDirtyPages(); // the seeding wrote a gigabyte
  const full = await oneIssuance(single, passFile, csr, 7);

  return [
    { suite: "batch", metric: `${fmt(options.certs)} P-256 certs from CSR files, end to end (median of ${BATCH_RUNS})`, value: `${fmt(rate)} certs/s`, baseline: `openssl x509 -req loop ${fmt(opensslRate, 1)}/s`, ratio: `${fmt(rate / opensslRate)}x`, target: ">= 3,000/s, >= 100x", ok: rate >= 3000 && rate / opensslRate >= 100 },
    { suite: "batch", metric: "same, against naive @peculiar/x509", value: `${fmt(rate)} certs/s`, baseline: `@peculiar/x509 ${fmt(naiveRate)}/s`, ratio: `${fmt(rate / naiveRate, 1)}x`, target: ">= 10x", ok: rate / naiveRate >= 10 },
    ...(memoryRate === undefined
      ? []
      : [
          {
            suite: "batch",
            metric: "same, home and outputs on tmpfs",
            value: `${fmt(memoryRate)} certs/s`,
            baseline: `openssl x509 -req loop ${fmt(opensslRate, 1)}/s`,
            ratio: `${fmt(memoryRate / opensslRate)}x`,
            target: ">= 3,000/s, >= 100x",
            ok: memoryRate >= 3000 && memoryRate / opensslRate >= 100,
          },
        ]),
    { suite: "batch", metric: "batch peak RSS (workers included)", value: `${fmt(onDisk.maxRssKb / 1024)} MB`, baseline: "", ratio: "", target: "< 300 MB", ok: onDisk.maxRssKb / 1024 < 300 },
    { suite: "cli", metric: "one `issue device`, empty inventory (median of 7)", value: `${fmt(empty.wallMs)} ms`, baseline: "", ratio: "", target: "<= 300 ms", ok: empty.wallMs <= 300 },
    { suite: "cli", metric: `one \`issue device\`, ${fmt(options.seed)} records`, value: `${fmt(full.wallMs)} ms`, baseline: `empty ${fmt(empty.wallMs)} ms`, ratio: `${fmt(full.wallMs / empty.wallMs, 2)}x`, target: "<= 1.2x", ok: full.wallMs / empty.wallMs <= 1.2 },
    { suite: "cli", metric: "one `issue device` peak RSS (empty / full)", value: `${fmt(empty.maxRssKb / 1024)} / ${fmt(full.maxRssKb / 1024)} MB`, baseline: "", ratio: "", target: "", ok: undefined },
  ];
}
