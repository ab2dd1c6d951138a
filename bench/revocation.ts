/**
 * Revocation at scale (issue 4): CRL generation and parsing at 100k and 1M entries against
 * `openssl crl` parsing the same file; OCSP responses/s over loopback with autocannon.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import autocannon from "autocannon";
import { generateDeviceCertificate, Home, revokeCertificate, startServer } from "../ca/index.js";
import { benchHome, CLI, fmt, REPO, type Row, runNode } from "./harness.js";

async function crlRows(dir: string, count: number): Promise<Row[]> {
  const file = join(dir, `crl-${count}.der`);
  const child = join(REPO, "dist/bench/crl-child.js");
  const enc = await runNode([child, "encode", file, String(count)]);
  const encoded = JSON.parse(enc.stdout) as { ms: number; bytes: number; maxRssKb: number };
  const dec = await runNode([child, "parse", file]);
  const parsed = JSON.parse(dec.stdout) as { ms: number; entries: number; signatureOk: boolean; maxRssKb: number };
  if (parsed.entries !== count || !parsed.signatureOk) throw new Error(`CRL round trip failed: ${dec.stdout}`);
  const started = performance.now();
  execFileSync("openssl", ["crl", "-inform", "DER", "-in", file, "-noout"], { stdio: "ignore" });
  const opensslMs = performance.now() - started;
  const n = fmt(count);
  return [
    { suite: "crl", metric: `${n} entries: encode + sign`, value: `${fmt(encoded.ms / 1000, 2)} s`, baseline: "", ratio: "", target: count >= 1e6 ? "<= 5 s" : "", ok: count >= 1e6 ? encoded.ms <= 5000 : undefined },
    {
      suite: "crl",
      metric: `${n} entries: parse + verify`,
      value: `${fmt(parsed.ms / 1000, 2)} s`,
      baseline: `openssl crl ${fmt(opensslMs / 1000, 2)} s`,
      ratio: `${fmt(parsed.ms / opensslMs, 2)}x`,
      target: count >= 1e6 ? "<= 1.5 s" : "",
      ok: count >= 1e6 ? parsed.ms <= 1500 : undefined,
    },
    { suite: "crl", metric: `${n} entries: peak RSS encode / parse (${fmt(encoded.bytes / 1e6, 1)} MB CRL)`, value: `${fmt(encoded.maxRssKb / 1024)} / ${fmt(parsed.maxRssKb / 1024)} MB`, baseline: "", ratio: "", target: "<= 1 GB", ok: Math.max(encoded.maxRssKb, parsed.maxRssKb) <= 1024 * 1024 },
  ];
}

/** An OCSP request for one device certificate, made by openssl (the referee's own client). */
function ocspRequest(dir: string, issuerPem: string, certPem: string, nonce: boolean): Buffer {
  writeFileSync(join(dir, "issuer.pem"), issuerPem);
  writeFileSync(join(dir, "leaf.pem"), certPem);
  const out = join(dir, `req-${nonce}.der`);
  execFileSync("openssl", ["ocsp", "-issuer", join(dir, "issuer.pem"), "-cert", join(dir, "leaf.pem"), ...(nonce ? [] : ["-no_nonce"]), "-reqout", out], { stdio: "ignore" });
  return readFileSync(out);
}

/** One OCSP load test: a probe first (only successful OCSP answers count, HTTP 200 alone says nothing), then autocannon. */
async function ocspLoad(url: string, body: Buffer, label: string): Promise<Row> {
  const ocsp = `${url}/ocsp/device`;
  const headers = { "content-type": "application/ocsp-request" };
  const probe = new Uint8Array(await (await fetch(ocsp, { method: "POST", headers, body })).arrayBuffer());
  // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, ... }: the status follows the outer header.
  const header = probe[1]! < 0x80 ? 2 : 2 + (probe[1]! & 0x7f);
  if (probe[0] !== 0x30 || probe[header] !== 0x0a || probe[header + 1] !== 0x01 || probe[header + 2] !== 0x00) throw new Error(`the OCSP probe was not answered successfully (${label})`);
  const result = await autocannon({ url: ocsp, method: "POST", headers, body, connections: 32, pipelining: 1, duration: 8 });
  const rate = result.requests.average;
  return {
    suite: "ocsp",
    metric: `${label}, 32 connections, 8 s`,
    value: `${fmt(rate)} resp/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`,
    baseline: "openssl ocsp -index: 1 request at a time",
    ratio: "",
    target: ">= 5,000/s, p99 <= 20 ms",
    ok: rate >= 5000 && result.latency.p99 <= 20 && result.non2xx === 0 && result.errors === 0,
  };
}

async function ocspRows(dir: string): Promise<Row[]> {
  const homeDir = join(dir, "pki-ocsp");
  const passphrase = async () => "bench passphrase";
  const { credential } = await benchHome(homeDir, passphrase);
  const home = await Home.open({ home: homeDir, passphrase, credential });
  // `serve` publishes CRLs (a write): it runs under the bench admin's service token.
  const tokenFile = join(dir, "bench.token");
  writeFileSync(tokenFile, `${credential.token}\n`, { mode: 0o600 });
  const good = await generateDeviceCertificate(home, "ocsp-good");
  const bad = await generateDeviceCertificate(home, "ocsp-revoked");
  await revokeCertificate(home, bad.record.serial, { reason: "keyCompromise" });
  const deviceCa = good.chain[0]!;
  const cacheable = ocspRequest(dir, deviceCa, good.pem, false);
  const signed = ocspRequest(dir, deviceCa, bad.pem, true);
  const rows: Row[] = [];
  const server = await startServer(home, { port: 0 });
  try {
    rows.push(await ocspLoad(server.url, cacheable, "POST, no nonce (cacheable)"));
    rows.push(await ocspLoad(server.url, signed, "POST, with nonce (signed per request)"));
  } finally {
    await server.close();
  }
  // The same signed path, served the way a deployment runs it: `trustline serve --workers 2`.
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [CLI, "--home", homeDir, "serve", "--port", String(port), "--workers", "2"], { env: { ...process.env, TRUSTLINE_PASSPHRASE: "bench passphrase", TRUSTLINE_TOKEN_FILE: tokenFile }, stdio: "ignore" });
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    rows.push(await ocspLoad(url, signed, "POST, with nonce, `trustline serve --workers 2`"));
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
  return rows;
}

export async function revocationBench(dir: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of [100_000, 1_000_000]) {
    console.error(`[crl] ${fmt(n)} entries…`);
    rows.push(...(await crlRows(dir, n)));
  }
  console.error("[ocsp] autocannon against trustline serve on 127.0.0.1…");
  rows.push(...(await ocspRows(dir)));
  return rows;
}
