/**
 * Device certificates for the EST service: the issuing pipeline of ca/issue.ts (CSR proof of
 * possession, the policy engine, intent -> signature -> durable record -> issue entry), with its
 * key-free checks on a worker thread (csr-checker.ts) and its commits grouped. Many stations
 * enroll at once, each request with its own trace; while one group is being committed (one lock,
 * a few fsyncs, one signed audit head) the next gathers, so the store's cost is paid per group,
 * not per certificate, and nobody waits for a timer.
 *
 * A request may name a batch (`issue batch --est`): a request already issued in that batch is
 * answered with the certificate it got, checked again under the lock, so a resumed or repeated
 * push never gets a second certificate for one CSR, whichever server process it reaches.
 */
import { hash } from "node:crypto";
import type { AuditEvent } from "../audit/log.js";
import { isTrustlineError, TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { caCertificateDer, caSigner, getCa, issuerFacts, policyRefusalMessage, signatureHolds, spkiOfCa, validateBatchId } from "../issue.js";
import { signatureAlgorithmFor, signStructure, type Signer } from "../keys/signer.js";
import type { TraceFields } from "../operators/model.js";
import type { BatchCursor } from "../store/home-storage.js";
import type { CaRecord } from "../store/state.js";
import type { CertificateRecord } from "../store/types.js";
import { subjectNameDer } from "../x509/cert-fields.js";
import { parseCsrDer } from "../x509/csr.js";
import { deviceRecordFields } from "../batch/protocol.js";
import { RequestIndex } from "../batch/request-index.js";
import { DEFAULT_CSR_LIMIT } from "../input-file.js";
import { CsrChecker } from "./csr-checker.js";

export interface EnrollmentRequest {
  /** The PKCS#10 request, DER. */
  readonly csr: Uint8Array;
  /** Who asked, where and how: recorded with the certificate and its audit entries. */
  readonly trace: TraceFields;
  /** A batch the request belongs to (`issue batch --est`): one certificate per request per batch. */
  readonly batch?: string;
  /** simplereenroll: the certificate being renewed (the new one keeps its subject and profile). */
  readonly renews?: CertificateRecord;
}

export type Enrollment =
  | { readonly ok: true; readonly der: Uint8Array; readonly record: CertificateRecord; /** An earlier request of the batch got it. */ readonly reused: boolean }
  | { readonly ok: false; readonly code: string; readonly message: string };

interface Pending {
  readonly request: EnrollmentRequest;
  readonly requestSha256: string;
  readonly done: (e: Enrollment) => void;
  readonly fail: (e: unknown) => void;
  /** Absent for a refusal, audited in the group's commit. */
  readonly issue?: { readonly tbs: Uint8Array; readonly record: Omit<CertificateRecord, "der" | "issuedAt"> };
  readonly refusal?: { readonly code: string; readonly message: string };
}

/** Batches whose requests this process has read (the most recent ones). */
const MAX_BATCHES = 64;

export class Enroller {
  readonly #home: Home;
  readonly ca: CaRecord;
  readonly #signer: Signer;
  readonly #checker: CsrChecker;
  #queue: Pending[] = [];
  #committing = false;
  #checkedSignature = false;
  readonly #batches = new Map<string, { index: RequestIndex; cursor: BatchCursor | undefined }>();

  private constructor(home: Home, ca: CaRecord, signer: Signer) {
    this.#home = home;
    this.ca = ca;
    this.#signer = signer;
    const layout = { algorithm: signer.algorithm, issuerName: subjectNameDer(caCertificateDer(ca)), issuerPublicKey: spkiOfCa(ca) };
    this.#checker = new CsrChecker(
      () => ({
        profile: "device",
        issuer: { ...issuerFacts(home, ca, ca.name), notBefore: ca.notBefore, notAfter: ca.notAfter },
        layout,
        maxRequestBytes: DEFAULT_CSR_LIMIT, // requests come as bytes, bounded by the service
        already: new Map(),
      }),
      home.clock,
    );
  }

  /** An enroller for device CA `caName`, its key opened now. */
  static async open(home: Home, caName: string): Promise<Enroller> {
    const ca = getCa(home, caName);
    if (ca.profile !== "device-ca") throw new TrustlineError("POLICY_DENIED", `the EST service issues device certificates; CA "${ca.name}" is a ${ca.profile}`);
    const signer = await caSigner(home, ca);
    // The fast encoder lays out the signature algorithm the CA is recorded with: the key must agree.
    if (signer.algorithm !== signatureAlgorithmFor(ca.keyAlgorithm)) throw new TrustlineError("CONFIG_INVALID", `CA "${ca.name}" is recorded as ${ca.keyAlgorithm} but its key signs ${signer.algorithm}`);
    return new Enroller(home, ca, signer);
  }

  /** Issue (or refuse, audited) one request; resolves once the outcome is durable. */
  async enroll(request: EnrollmentRequest): Promise<Enrollment> {
    const checked = await this.#check(request);
    return new Promise<Enrollment>((done, fail) => {
      this.#queue.push({ request, done, fail, ...checked });
      if (!this.#committing) {
        this.#committing = true;
        // Start after the requests already checked have had their turn: the group gathers what
        // arrived together, and nobody waits for a timer.
        setImmediate(() => void this.#drain());
      }
    });
  }

  /** The request checked by a CSR worker (parse, proof of possession, policy, TBS): what to issue, or why not. */
  async #check(request: EnrollmentRequest): Promise<Pick<Pending, "requestSha256" | "issue" | "refusal">> {
    try {
      if (request.batch !== undefined) validateBatchId(request.batch);
      // EST carries DER (RFC 7030 §4.2.1): what is not a SEQUENCE is refused here, as the pipeline words it.
      if (request.csr[0] !== 0x30) parseCsrDer(request.csr);
    } catch (e) {
      if (!isTrustlineError(e)) throw e;
      return { requestSha256: hash("sha256", request.csr), refusal: { code: e.code, message: e.message } };
    }
    const r = await this.#checker.check(request.csr);
    // ("skipped" never comes: the worker is given no batch's earlier requests; a batch is checked under the lock.)
    if (r.ok === "skipped") throw new Error("the CSR worker skipped a request it was not told about");
    if (r.ok === false) {
      return { requestSha256: r.requestSha256, refusal: { code: r.code, message: r.problems ? policyRefusalMessage("device", r.problems) : r.message } };
    }
    if (request.renews && r.commonName !== request.renews.commonName) {
      const reason = `a renewal keeps the subject: the request names CN=${r.commonName.slice(0, 64)}, the certificate being renewed CN=${request.renews.commonName}`;
      return { requestSha256: r.requestSha256, refusal: { code: "POLICY_DENIED", message: policyRefusalMessage("device", [reason]) } };
    }
    return {
      requestSha256: r.requestSha256,
      issue: {
        tbs: r.tbs,
        record: { ...deviceRecordFields(r, this.ca.name), ...request.trace, batch: request.batch ?? null, via: "est", ...(request.renews ? { renews: request.renews.serial } : {}) },
      },
    };
  }

  /** Stop the CSR worker thread (pending checks are answered first). */
  close(): Promise<void> {
    return this.#checker.close();
  }

  /** Commit what has gathered, group after group, until nothing waits. */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue;
        this.#queue = [];
        try {
          await this.#commit(group);
        } catch (e) {
          for (const p of group) p.fail(e);
        }
        await new Promise((r) => setImmediate(r)); // let the next requests in
      }
    } finally {
      this.#committing = false;
    }
  }

  async #commit(group: readonly Pending[]): Promise<void> {
    const home = this.#home;
    const outcomes = new Map<Pending, Enrollment>();
    const reused: { pending: Pending; serial: string }[] = [];
    await home.transaction(async () => {
      // A request of a batch that this or another process already issued gets that certificate.
      const indexes = new Map<string, RequestIndex>();
      for (const batch of new Set(group.flatMap((p) => (p.issue && p.request.batch !== undefined ? [p.request.batch] : [])))) indexes.set(batch, await this.#batchIndex(batch));
      const toIssue: Pending[] = [];
      for (const p of group) {
        if (!p.issue) continue;
        const earlier = p.request.batch === undefined ? undefined : indexes.get(p.request.batch)!.get(p.requestSha256);
        if (earlier !== undefined) reused.push({ pending: p, serial: earlier });
        else toIssue.push(p);
      }
      // The same request twice in one group of one batch: the first is issued, the second reuses it.
      const seen = new Map<string, Pending>();
      for (const p of [...toIssue]) {
        if (p.request.batch === undefined) continue;
        const key = `${p.request.batch}\n${p.requestSha256}`;
        if (seen.has(key)) {
          toIssue.splice(toIssue.indexOf(p), 1);
          reused.push({ pending: p, serial: seen.get(key)!.issue!.record.serial });
        } else seen.set(key, p);
      }
      const rejections: AuditEvent[] = group
        .filter((p) => p.refusal)
        .map((p) => ({
          action: "certificate.reject",
          outcome: "rejected",
          ...p.request.trace,
          profile: "device",
          ca: this.ca.name,
          requestSha256: p.requestSha256,
          batch: p.request.batch ?? null,
          reason: p.refusal!.message,
          details: { code: p.refusal!.code, via: "est" },
        }));
      // One intent per requester in the group (every serial about to be signed), as a batch does.
      const intents = new Map<string, { trace: TraceFields; serials: string[] }>();
      for (const p of toIssue) {
        const key = JSON.stringify(p.request.trace);
        const entry = intents.get(key) ?? { trace: p.request.trace, serials: [] };
        entry.serials.push(p.issue!.record.serial);
        intents.set(key, entry);
      }
      const before: AuditEvent[] = [
        ...rejections,
        ...[...intents.values()].map(({ trace, serials }): AuditEvent => ({ action: "certificate.intent", outcome: "ok", ...trace, profile: "device", ca: this.ca.name, details: { count: serials.length, serials, via: "est" } })),
      ];
      // With nothing to sign, the rejections are the group's last entries: sign the head over them.
      if (before.length > 0) await home.record(before, { sign: toIssue.length === 0 });
      if (toIssue.length > 0) {
        const first = this.#checkedSignature ? undefined : await signStructure(toIssue[0]!.issue!.tbs, this.#signer);
        if (first) {
          if (!signatureHolds(first, this.#signer)) throw new TrustlineError("SIGNATURE_INVALID", `the key backend produced a signature that does not verify for CA "${this.ca.name}"; nothing was issued`);
          this.#checkedSignature = true;
        }
        const signed = await Promise.all(toIssue.map((p, i) => (i === 0 && first ? first : signStructure(p.issue!.tbs, this.#signer))));
        const issuedAt = home.clock().toISOString();
        const records = toIssue.map((p, i): CertificateRecord => ({ ...p.issue!.record, der: Buffer.from(signed[i]!).toString("base64"), issuedAt }));
        await home.inventory.putCertificates(records);
        await home.record(
          toIssue.map((p): AuditEvent => {
            const r = p.issue!.record;
            return { action: "certificate.issue", outcome: "ok", ...p.request.trace, profile: "device", ca: this.ca.name, serial: r.serial, requestSha256: r.requestSha256, subject: r.commonName, batch: r.batch, details: { via: "est", ...(r.renews ? { renews: r.renews } : {}) } };
          }),
        );
        for (const [i, p] of toIssue.entries()) {
          outcomes.set(p, { ok: true, der: signed[i]!, record: records[i]!, reused: false });
          if (p.request.batch !== undefined) this.#batches.get(p.request.batch)?.index.set(p.requestSha256, records[i]!.serial);
        }
      }
    });
    for (const p of group) if (p.refusal) outcomes.set(p, { ok: false, ...p.refusal });
    for (const { pending, serial } of reused) {
      const record = await home.inventory.getCertificate(serial);
      outcomes.set(pending, record ? { ok: true, der: new Uint8Array(Buffer.from(record.der, "base64")), record, reused: true } : { ok: false, code: "STORE_CORRUPT", message: `certificate ${serial} of batch ${pending.request.batch} is in the batch index but not in the inventory` });
    }
    for (const p of group) p.done(outcomes.get(p)!);
  }

  /** The batch's request index, brought up to date (under the lock: what every process has issued). */
  async #batchIndex(batch: string): Promise<RequestIndex> {
    let entry = this.#batches.get(batch);
    if (!entry) {
      if (this.#batches.size >= MAX_BATCHES) this.#batches.delete(this.#batches.keys().next().value!);
      entry = { index: new RequestIndex(), cursor: undefined };
      this.#batches.set(batch, entry);
    }
    const e = entry;
    e.cursor = await this.#home.inventory.readBatchRequests(batch, e.cursor, (sha, serial) => e.index.set(sha, serial));
    return e.index;
  }
}
