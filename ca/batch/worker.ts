/**
 * A batch worker: the CPU-heavy, key-free part of issuance for a chunk of CSRs: parse, verify the
 * self-signature (node:crypto), apply the policy, encode the TBSCertificate with the fast encoder.
 * It never sees a private key: the coordinator signs.
 */
import { parentPort, workerData } from "node:worker_threads";
import { evaluate, PROFILES } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import { csrDer, parseCsrDer } from "../x509/csr.js";
import { nameToString } from "../x509/name.js";
import { randomSerial, serialHex } from "../x509/serial.js";
import { TbsEncoder } from "../x509/tbs-encoder.js";
import { hash } from "node:crypto";
import { readInputFile } from "../input-file.js";
import type { WorkChunk, WorkItem, WorkResult, WorkerSetup } from "./protocol.js";
import { RequestIndex } from "./request-index.js";

const setup = workerData as WorkerSetup;
const readRequest = (path: string): Uint8Array => readInputFile(path, "CSR", setup.maxRequestBytes);
const profile = PROFILES[setup.profile];
const issuer = { ...setup.issuer, notBefore: new Date(setup.issuer.notBefore), notAfter: new Date(setup.issuer.notAfter) };
const encoder = new TbsEncoder(setup.layout);
const already = new RequestIndex(setup.already);

function work(item: WorkItem, now: Date): WorkResult {
  const index = item.index;
  let requestSha256 = "";
  let csr: Uint8Array = new Uint8Array(0);
  try {
    csr = "csr" in item ? item.csr : readRequest(item.path);
    // Resumption first: a request this batch already issued costs a hash, not a verification.
    const der = csrDer(csr);
    requestSha256 = hash("sha256", der);
    const earlier = already.get(requestSha256);
    if (earlier !== undefined) return { ok: "skipped", index, requestSha256, serial: earlier };
    const parsed = parseCsrDer(der, requestSha256);
    const extra = parsed.commonNames.length === 1 ? [] : [parsed.commonNames.length === 0 ? "the request has no common name (CN)" : `the request has ${parsed.commonNames.length} common names; exactly one is allowed`];
    const decision = evaluate(
      { commonName: parsed.commonNames[0] ?? "", publicKey: parsed.key, ...(setup.validityDays !== undefined ? { validityDays: setup.validityDays } : {}) },
      profile,
      issuer,
      now,
    );
    const problems = [...extra, ...(decision.ok ? [] : decision.violations.map((v) => v.message))];
    if (problems.length > 0 || !decision.ok) return { ok: false, index, requestSha256, code: "POLICY_DENIED", message: problems.join("; "), problems };
    const serial = randomSerial();
    const t = decision.template;
    return {
      ok: true,
      index,
      tbs: encoder.encode(serial, t, parsed.spki),
      serial: serialHex(serial),
      requestSha256,
      commonName: t.subject.commonName,
      subject: nameToString([...(t.subject.organization !== undefined ? [{ type: "O", value: t.subject.organization }] : []), { type: "CN", value: t.subject.commonName }]),
      notBefore: t.notBefore.toISOString(),
      notAfter: t.notAfter.toISOString(),
      policyOids: t.policyOids,
    };
  } catch (e) {
    if (!requestSha256) requestSha256 = hash("sha256", csr);
    const code = e instanceof TrustlineError ? e.code : "CSR_INVALID";
    return { ok: false, index, requestSha256, code, message: e instanceof Error ? e.message : String(e) };
  }
}

parentPort!.on("message", (chunk: WorkChunk) => {
  const now = new Date(chunk.now);
  const results = chunk.items.map((item) => work(item, now));
  parentPort!.postMessage(results, results.flatMap((r) => (r.ok === true ? [r.tbs.buffer as ArrayBuffer] : [])));
});
