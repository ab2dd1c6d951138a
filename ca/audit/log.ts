/**
 * The audit trail: an append-only JSON-lines file in which every entry holds the SHA-256 of the
 * previous one, so editing, deleting or reordering an entry breaks the chain. The chain head
 * (sequence number and hash of the newest entry) is signed with the home's audit key, whose
 * `audit-signer` certificate the root issued (operations.ts decides which key may sign heads), so
 * rewriting the whole chain, or cutting entries off its end, is caught as well.
 *
 *   audit/log.jsonl   one canonical JSON object a line (sorted keys: action, ..., prev, seq, ..., time), then "hash"
 *   audit/head.json   {seq, hash, time, signature}: signed over "trustline-audit-head/1 <seq> <hash>"
 *
 * An append made without the audit key (no passphrase given, or a wrong one) is chained but leaves
 * the signed head where it was; `verify` reports how many entries follow the signed head. Any other
 * failure to open the audit key refuses the write (Home.record). Writers hold the home lock.
 */
import { hash } from "node:crypto";
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { TrustlineError } from "../errors.js";
import type { Signer } from "../keys/signer.js";
import { fsyncInBackground, writeFileAtomicInBackground } from "../store/atomic.js";
import { canonicalJson } from "./canonical-json.js";

export type AuditAction =
  | "init"
  | "audit.certify" // the audit key certified by the root (audit-signer)
  | "ca.create"
  | "ca.move-key"
  | "ca.export"
  | "certificate.intent"
  | "certificate.issue"
  | "certificate.reject"
  | "certificate.fail"
  | "certificate.revoke"
  | "revocation.mass"
  | "crl.issue"
  | "ocsp.responder"
  | "dps.export" //     disabled-enrollment bodies written for DPS
  | "dps.push" //       group and enrollments sent to a DPS instance
  | "dps.upload-ca" // CA certificate uploaded to DPS and its possession proven
  | "operator.add"
  | "operator.change" // disabled, enabled, unlocked, MFA reset
  | "operator.locked" // security event: five failed sign-ins in the window
  | "auth.fail" //      security event: a refused sign-in (code, session, token, OpenID Connect)
  | "auth.forbidden" // a write the operator's roles do not allow
  | "session.open"
  | "session.close" //  logout, or revoked by an admin
  | "audit.verify-failed" // security event: the chain or its signed head did not verify
  | "config.set"
  | "report.signer" //  the report-signing key made and certified by the root (report-signer)
  | "report.sign" //   an auditor's report signed
  | "store.backup" //  an encrypted archive of the home written (its SHA-256 and counts)
  | "store.restore" // the home restored from an archive (the first entry after the archive's head)
  | "station.add" //   a production-line station enrolled (its station certificate issued), or replaced
  | "station.disable" // a station refused by the EST server from now on (its certificate stays valid)
  | "station.enable" //  a disabled station accepted again
  | "tls.issue"; //     the EST server's TLS key made (a file key in the home) and certified (tls-server)

export type AuditOutcome = "ok" | "rejected" | "failed";

/** What a caller records; the log adds seq, time, prev and hash. */
export interface AuditEvent {
  readonly action: AuditAction;
  readonly outcome: AuditOutcome;
  readonly operator: string;
  readonly station: string;
  /** The shift session the write ran under (null: signed in for that command alone); absent in entries made before sign-in existed. */
  readonly session?: string | null;
  /** How the operator proved who they are (`totp`, `oidc:<issuer>#<subject> amr=…`, `service-token`, `init`, `unauthenticated`). */
  readonly origin?: string;
  readonly ca?: string;
  readonly serial?: string;
  readonly requestSha256?: string;
  readonly subject?: string;
  readonly profile?: string;
  readonly batch?: string | null;
  readonly reason?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface AuditEntry extends AuditEvent {
  readonly seq: number;
  readonly time: string;
  readonly prev: string;
  readonly hash: string;
}

export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
  readonly time: string;
  /** base64 DER signature by the audit key. */
  readonly signature: string;
}

export type AuditVerdict =
  | { readonly intact: true; readonly entries: number; readonly signedThrough: number; readonly unsignedTail: number; readonly head: AuditHead }
  | { readonly intact: false; readonly entries: number; readonly firstBad: number; readonly problem: string };

export const GENESIS = "0".repeat(64);

export function entryHash(entry: Omit<AuditEntry, "hash">): string {
  return hash("sha256", canonicalJson(entry));
}

function headMessage(seq: number, hash: string): Buffer {
  return Buffer.from(`trustline-audit-head/1 ${seq} ${hash}`, "utf8");
}

/**
 * Where the log's lines and its signed head are kept: files in the home (FileAuditStorage below)
 * or PostgreSQL (ca/store/postgres/audit-storage.ts). The chain, hashing, signing and verifying are
 * AuditLog's, the same whatever the storage: a line is stored and read back as exact text.
 */
export interface AuditStorage {
  create(): Promise<void>;
  /** The newest complete entry; with `repair`, a torn last line is cut first (caller holds the lock). */
  lastEntry(repair: boolean): Promise<AuditEntry | undefined>;
  /** Append complete lines (each ending in a newline), durably. Caller holds the lock. */
  appendLines(text: string): Promise<void>;
  /**
   * Replace the signed head. `linesDurable` is the append of the lines it covers, still running:
   * the head may be prepared meanwhile, but must not replace the old one before they are durable.
   */
  writeHead(head: AuditHead, linesDurable?: Promise<void>): Promise<void>;
  /** The signed head, or undefined when missing or unreadable. */
  readHead(): Promise<AuditHead | undefined>;
  /** Every line, in order, numbered from 1. */
  entries(): AsyncIterable<{ line: number; text: string }>;
}

export class FileAuditStorage implements AuditStorage {
  readonly #dir: string;
  readonly #logPath: string;
  readonly #headPath: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.#logPath = join(dir, "log.jsonl");
    this.#headPath = join(dir, "head.json");
  }

  async create(): Promise<void> {
    mkdirSync(this.#dir, { recursive: true });
  }

  /** The newest complete entry, read from the end of the file; cuts a torn last line (caller holds the lock). */
  async lastEntry(repair: boolean): Promise<AuditEntry | undefined> {
    if (!existsSync(this.#logPath)) return undefined;
    const fd = openSync(this.#logPath, repair ? "r+" : "r");
    try {
      let size = fstatSync(fd).size;
      if (size === 0) return undefined;
      let window = 1 << 14;
      for (;;) {
        const len = Math.min(size, window);
        const buf = Buffer.alloc(len);
        readSync(fd, buf, 0, len, size - len);
        if (buf[len - 1] !== 10) {
          // Torn final line: nothing after the last newline was ever acknowledged.
          const nl = buf.lastIndexOf(10);
          if (nl === -1 && len < size) {
            window *= 4;
            continue;
          }
          if (!repair) {
            size = size - len + nl + 1;
            if (size <= 0) return undefined;
            continue;
          }
          ftruncateSync(fd, size - len + nl + 1);
          fsyncSync(fd);
          size = size - len + nl + 1;
          if (size === 0) return undefined;
          continue;
        }
        const prevNl = buf.lastIndexOf(10, len - 2);
        if (prevNl === -1 && len < size) {
          window *= 4;
          continue;
        }
        const line = buf.toString("utf8", prevNl + 1, len - 1);
        try {
          return JSON.parse(line) as AuditEntry;
        } catch (e) {
          throw new TrustlineError("AUDIT_TAMPERED", `the last audit entry is not valid JSON; run "trustline audit verify"`, { cause: e });
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  async appendLines(text: string): Promise<void> {
    const data = Buffer.from(text, "utf8");
    const fd = openSync(this.#logPath, "a", 0o600);
    try {
      let written = 0;
      while (written < data.length) written += writeSync(fd, data, written, data.length - written);
      await fsyncInBackground(fd);
    } finally {
      closeSync(fd);
    }
  }

  async writeHead(head: AuditHead, linesDurable: Promise<void> = Promise.resolve()): Promise<void> {
    // No directory fsync: after a power cut the rename may be lost, leaving the previous signed head,
    // which still verifies (the newer entries then show as an unsigned tail), never a torn one.
    // The new head's file is written and synced while the lines are, and renamed after them.
    await writeFileAtomicInBackground(this.#headPath, `${JSON.stringify(head)}\n`, { mode: 0o600, syncDirectory: false, publishAfter: linesDurable });
  }

  async readHead(): Promise<AuditHead | undefined> {
    if (!existsSync(this.#headPath)) return undefined;
    try {
      return parseHead(readFileSync(this.#headPath, "utf8"));
    } catch {
      return undefined;
    }
  }

  async *entries(): AsyncIterable<{ line: number; text: string }> {
    if (!existsSync(this.#logPath)) return;
    const lines = createInterface({ input: createReadStream(this.#logPath, { encoding: "utf8" }), crlfDelay: Infinity });
    let line = 0;
    for await (const text of lines) {
      line += 1;
      yield { line, text };
    }
  }
}

/** A signed head from its JSON text, or undefined when it is not one. */
export function parseHead(text: string): AuditHead | undefined {
  const head = JSON.parse(text) as AuditHead | null;
  return head !== null && typeof head === "object" && Number.isSafeInteger(head.seq) && typeof head.hash === "string" ? head : undefined;
}

export class AuditLog {
  readonly #clock: () => Date;

  constructor(
    readonly storage: AuditStorage,
    clock: () => Date,
  ) {
    this.#clock = clock;
  }

  create(): Promise<void> {
    return this.storage.create();
  }

  /**
   * Append events in order, durably; with `signer`, sign the new head. Caller holds the home lock.
   */
  async append(events: readonly AuditEvent[], signer: Signer | undefined): Promise<void> {
    const last = await this.storage.lastEntry(true);
    let prev = last?.hash ?? GENESIS;
    let seq = last?.seq ?? 0;
    const time = this.#clock().toISOString();
    let text = "";
    for (const event of events) {
      seq += 1;
      const body = { ...event, seq, time, prev };
      // The line is the canonical body with the hash added last: one serialization per entry.
      const canonical = canonicalJson(body);
      const digest = hash("sha256", canonical);
      text += `${canonical.slice(0, -1)},"hash":"${digest}"}\n`;
      prev = digest;
    }
    // The lines and the head are synced side by side; the head replaces the old one after the lines.
    const linesDurable = events.length > 0 ? this.storage.appendLines(text) : Promise.resolve();
    const headWritten = signer && seq > 0 ? this.#signHead(signer, seq, prev).then((head) => this.storage.writeHead(head, linesDurable)) : Promise.resolve();
    // Both settle before the caller goes on (it may release the lock), then the first failure is thrown.
    const [lines, head] = await Promise.allSettled([linesDurable, headWritten]);
    if (lines.status === "rejected") throw lines.reason;
    if (head.status === "rejected") throw head.reason;
  }

  async #signHead(signer: Signer, seq: number, hash: string): Promise<AuditHead> {
    const signature = await signer.sign(headMessage(seq, hash));
    return { seq, hash, time: this.#clock().toISOString(), signature: Buffer.from(signature).toString("base64") };
  }

  readHead(): Promise<AuditHead | undefined> {
    return this.storage.readHead();
  }

  /** Entries (parsed), optionally from a time on. Does not verify: see `verify`. */
  async *read(since?: Date): AsyncIterable<AuditEntry> {
    for await (const { text } of this.storage.entries()) {
      if (text.length === 0) continue;
      let entry: AuditEntry;
      try {
        entry = JSON.parse(text) as AuditEntry;
      } catch {
        continue; // `audit verify` reports it; listing shows what is readable
      }
      if (since === undefined || new Date(entry.time) >= since) yield entry;
    }
  }

  /**
   * Check every link and hash, then the signed head with `headSignatureHolds` (the caller decides
   * which key may sign heads). Names the first bad entry by its position in the file (1-based
   * line = expected sequence number). `hashesAt`: sequence numbers whose entry hashes the caller
   * wants back (checkpoints). `onEntry` sees each entry once its hash and link hold, so a reader
   * of the trail (the report) need not read the file a second time.
   */
  async verify(headSignatureHolds: (message: Buffer, signature: Buffer) => boolean, hashesAt: ReadonlySet<number> = new Set(), onEntry?: (entry: AuditEntry) => void): Promise<{ verdict: AuditVerdict; hashes: ReadonlyMap<number, string> }> {
    let prev = GENESIS;
    let count = 0;
    const hashes = new Map<number, string>();
    const head = await this.storage.readHead();
    const done = (verdict: AuditVerdict) => ({ verdict, hashes });
    for await (const { line, text } of this.storage.entries()) {
      const bad = (problem: string): AuditVerdict => ({ intact: false, entries: count, firstBad: line, problem });
      let entry: AuditEntry;
      try {
        entry = JSON.parse(text) as AuditEntry;
      } catch {
        return done(bad(`entry ${line} is not valid JSON (edited or truncated)`));
      }
      if (entry === null || typeof entry !== "object" || entry.seq !== line) {
        const seq = typeof entry?.seq === "number" ? entry.seq : NaN;
        return done(
          bad(
            seq > line
              ? `entry ${line} carries sequence number ${seq}: ${seq - line} entr${seq - line === 1 ? "y was" : "ies were"} deleted before it`
              : `entry ${line} carries sequence number ${String(entry?.seq)}: entries were reordered or duplicated`,
          ),
        );
      }
      const { hash, ...body } = entry;
      if (entryHash(body) !== hash) return done(bad(`entry ${line} was edited: its content does not match its hash`));
      if (entry.prev !== prev) return done(bad(`entry ${line} does not follow entry ${line - 1}: the chain is broken (an entry was deleted, inserted or swapped)`));
      prev = hash;
      count = line;
      onEntry?.(entry);
      if ((head && line === head.seq) || hashesAt.has(line)) hashes.set(line, hash);
    }
    if (!head) {
      return done(
        count === 0
          ? { intact: false, entries: 0, firstBad: 1, problem: "the audit log is empty and has no signed head: it was deleted" }
          : { intact: false, entries: count, firstBad: 1, problem: "the signed chain head (audit/head.json) is missing" },
      );
    }
    let signatureOk = false;
    try {
      signatureOk = typeof head.signature === "string" && headSignatureHolds(headMessage(head.seq, head.hash), Buffer.from(head.signature, "base64"));
    } catch {
      signatureOk = false;
    }
    if (!signatureOk) return done({ intact: false, entries: count, firstBad: head.seq, problem: "the chain head's signature does not verify with the audit key" });
    if (head.seq > count) {
      return done({ intact: false, entries: count, firstBad: count + 1, problem: `the signed head covers ${head.seq} entries but the log has ${count}: entries ${count + 1}..${head.seq} were deleted` });
    }
    if (hashes.get(head.seq) !== head.hash) {
      return done({ intact: false, entries: count, firstBad: head.seq, problem: `entry ${head.seq} does not match the signed head: the chain up to it was rewritten` });
    }
    return done({ intact: true, entries: count, signedThrough: head.seq, unsignedTail: count - head.seq, head });
  }
}

/** The message a chain head's signature covers. */
export function auditHeadMessage(seq: number, hash: string): Buffer {
  return headMessage(seq, hash);
}
