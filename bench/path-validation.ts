/**
 * Path validation throughput (the update server's and the test station's question), on one core:
 *  (a) a 3-certificate P-256 chain (device -> device CA -> root), a different device each call,
 *      through one PathValidator (the CA certificates decoded, indexed and checked once): the
 *      realistic server case; target >= 5,000 validations/s/core;
 *  (b) the same chain again and again (every signature outcome memoised);
 *  (c) no cache: every certificate decoded, imported and verified on every call;
 * each against node:crypto's X509Certificate doing the bare minimum by hand (parse the three
 * certificates, check issuance, verify two signatures, check dates) in the same run; and
 *  (d) one `trustline cert verify` process against one `openssl verify` process.
 */
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CertificateCache, PathValidator, validatePath } from "../ca/index.js";
import { EKU, issue, selfSigned, type Issued } from "../test/helpers/cert-factory.js";
import { FIXED_NOW } from "../test/helpers/pki.js";
import { CLI, fmt, median, type Row, runNode, runSync } from "./harness.js";

const TARGET_PER_SECOND = 5_000;

/**
 * Calls per second of `f(i)`: the median of five one-second windows after a warm-up, so that a
 * busy machine (other processes taking the core now and then) skews the figure less.
 */
function rate(f: (i: number) => void): number {
  let n = 0;
  for (const end = performance.now() + 500; performance.now() < end; ) f(n++);
  const windows: number[] = [];
  for (let w = 0; w < 5; w++) {
    const start = performance.now();
    let calls = 0;
    let elapsed = 0;
    while (elapsed < 1000) {
      for (let k = 0; k < 50; k++) f(n + calls++);
      elapsed = performance.now() - start;
    }
    n += calls;
    windows.push(calls / (elapsed / 1000));
  }
  return median(windows);
}

/** The by-hand baseline: node:crypto parses and verifies, nothing else (no constraints, no policies). */
function naiveNode(leaf: Uint8Array, ca: Uint8Array, root: Uint8Array, at: Date): void {
  const [l, c, r] = [new X509Certificate(leaf), new X509Certificate(ca), new X509Certificate(root)];
  if (!l.checkIssued(c) || !c.checkIssued(r) || !l.verify(c.publicKey) || !c.verify(r.publicKey)) throw new Error("naive check failed");
  for (const x of [l, c]) if (at < new Date(x.validFrom) || at > new Date(x.validTo)) throw new Error("naive: out of validity");
}

export async function pathValidationBench(dir: string, options: { leaves: number }): Promise<Row[]> {
  const root = selfSigned({ subject: "/O=Bench/CN=Root" });
  const ca = issue(root, { subject: "/O=Bench/CN=Device CA", ca: { pathLen: 0 }, crlDistributionPoints: ["http://pki.bench/device.crl"] });
  const leaves: Issued[] = Array.from({ length: options.leaves }, (_, i) => issue(ca, { subject: `/CN=dev-${i}`, eku: [EKU.clientAuth] }));
  const trust = { trustAnchors: [root.der], intermediates: [ca.der] };
  const request = { time: FIXED_NOW, purpose: "client" as const };
  const check = (r: ReturnType<typeof validatePath>) => {
    if (!r.valid) throw new Error(`bench chain did not validate: ${r.reason}`);
  };

  // Distinct devices: the cache is too small to keep devices, so each one is decoded and its
  // signature verified afresh, while the root and the CA (used by every call) stay.
  const server = new PathValidator({ ...trust, cache: new CertificateCache(16) });
  const distinct = rate((i) => check(server.validate(leaves[i % leaves.length]!.der, request)));
  const same = rate(() => check(server.validate(leaves[0]!.der, request)));
  // One-shot calls with nothing kept between them.
  const uncached = rate((i) => check(validatePath(leaves[i % leaves.length]!.der, { ...trust, ...request })));
  const naive = rate((i) => naiveNode(leaves[i % leaves.length]!.der, ca.der, root.der, FIXED_NOW));
  // The floor: one P-256 signature check, which every new device costs.
  const leafParsed = new X509Certificate(leaves[0]!.der);
  const caKey = new X509Certificate(ca.der).publicKey;
  const verifyOnly = rate(() => {
    if (!leafParsed.verify(caKey)) throw new Error("bad signature");
  });

  // One process per verification, as a shell script on a test station would run it.
  writeFileSync(join(dir, "root.pem"), root.pem);
  writeFileSync(join(dir, "ca.pem"), ca.pem);
  writeFileSync(join(dir, "dev.pem"), leaves[0]!.pem);
  const cliMs: number[] = [];
  const opensslMs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const ours = await runNode([CLI, "cert", "verify", join(dir, "dev.pem"), "--trust", join(dir, "root.pem"), "--untrusted", join(dir, "ca.pem"), "--purpose", "client", "--at", FIXED_NOW.toISOString()]);
    cliMs.push(performance.now() - t0);
    if (ours.status !== 0) throw new Error(`cert verify failed: ${ours.stderr}`);
    const t1 = performance.now();
    const theirs = runSync("openssl", ["verify", "-attime", String(FIXED_NOW.getTime() / 1000), "-purpose", "sslclient", "-CAfile", join(dir, "root.pem"), "-untrusted", join(dir, "ca.pem"), join(dir, "dev.pem")]);
    opensslMs.push(performance.now() - t1);
    if (theirs.status !== 0) throw new Error(`openssl verify failed: ${theirs.stderr}`);
  }

  const perSecond = (n: number) => `${fmt(n)}/s`;
  const ratio = (a: number, b: number) => `${fmt(a / b, 2)}x`;
  return [
    { suite: "validate", metric: "3-cert chain, new device each call (PathValidator)", value: perSecond(distinct), baseline: `${perSecond(naive)} node X509Certificate by hand`, ratio: ratio(distinct, naive), target: `>= ${fmt(TARGET_PER_SECOND)}/s/core`, ok: distinct >= TARGET_PER_SECOND },
    { suite: "validate", metric: "3-cert chain, same chain repeated", value: perSecond(same), baseline: `${perSecond(naive)} node X509Certificate by hand`, ratio: ratio(same, naive), target: "", ok: undefined },
    { suite: "validate", metric: "3-cert chain, one-shot validatePath, no cache", value: perSecond(uncached), baseline: `${perSecond(naive)} node X509Certificate by hand`, ratio: ratio(uncached, naive), target: "", ok: undefined },
    { suite: "validate", metric: "P-256 signature check alone (the floor)", value: perSecond(verifyOnly), baseline: "", ratio: "", target: "", ok: undefined },
    { suite: "validate", metric: "one CLI process per verification", value: `${fmt(median(cliMs))} ms`, baseline: `${fmt(median(opensslMs))} ms openssl verify`, ratio: ratio(median(cliMs), median(opensslMs)), target: "", ok: undefined },
  ];
}
