/**
 * Moving a home between stores (`trustline store copy`): the embedded files to PostgreSQL when a
 * plant grows to several lines, or back. Everything is copied under the source's write lock, so
 * nothing is issued meanwhile: the state, every certificate record (in order of issue, in groups),
 * every revocation event (in order, holds and releases included), every audit line as its exact
 * text, and the signed head. Not the stored CRLs: they are derived, and their revocation positions
 * mean nothing in another store; the first `serve` at the destination issues new ones, numbered on
 * from the copied state. The state goes last: a copy cut short leaves no home at the
 * destination, never half of one. Then the destination is checked: the same counts, and its audit
 * chain verified with the audit key the root certified.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { AuditLog, type AuditHead } from "../audit/log.js";
import { verifyAuditLog } from "../audit/operations.js";
import { LEGACY_TRUSTLINE_ARC } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import { writeFileAtomic } from "./atomic.js";
import { embeddedStorage, type HomeStorage, openHomeStorage, STORE_CONFIG } from "./home-storage.js";
import { isDatabaseUrl } from "./postgres/connect.js";
import { createPostgresStorage, openPostgresStorage } from "./postgres/storage.js";
import type { CertificateRecord } from "./types.js";

/** Records per write at the destination. */
const GROUP = 1_000;

export interface CopyCounts {
  readonly certificates: number;
  readonly revocationEvents: number;
  readonly auditEntries: number;
}

export interface CopySummary extends CopyCounts {
  readonly from: string;
  readonly to: string;
  readonly auditHead: { readonly seq: number; readonly hash: string } | null;
  /** The destination's audit verdict, after the copy. */
  readonly auditIntact: true;
}

export interface CopyProgress {
  (done: { readonly certificates: number }): void;
}

async function isEmpty(storage: HomeStorage): Promise<boolean> {
  try {
    await storage.state.read();
    return false;
  } catch (e) {
    if (e instanceof TrustlineError && e.code === "CONFIG_INVALID") return true;
    throw e;
  }
}

export async function copyStore(from: HomeStorage, to: HomeStorage, options: { progress?: CopyProgress; now?: Date } = {}): Promise<CopySummary> {
  if (!(await isEmpty(to))) throw new TrustlineError("ALREADY_EXISTS", `${to.where} already holds a CA home; copy into an empty destination`);
  const now = options.now ?? new Date();
  return from.lock(async () => {
    const state = await from.state.read();
    // A trail that does not verify is not copied: the copy would launder it.
    const source = await verifyAuditLog({ audit: new AuditLog(from.audit, () => now), policyArc: state.policyArc ?? LEGACY_TRUSTLINE_ARC, state });
    if (!source.intact) throw new TrustlineError("AUDIT_TAMPERED", `the audit log at ${from.where} does not verify (entry ${source.firstBad}: ${source.problem}); nothing was copied`);
    await to.inventory.create();
    await to.audit.create();

    let certificates = 0;
    let group: CertificateRecord[] = [];
    for await (const record of from.inventory.query({}, now)) {
      group.push(record);
      if (group.length === GROUP) {
        await to.inventory.putCertificates(group);
        certificates += group.length;
        group = [];
        options.progress?.({ certificates });
      }
    }
    await to.inventory.putCertificates(group);
    certificates += group.length;

    const events = (await from.inventory.revocationEventsSince(0)).entries;
    for (let i = 0; i < events.length; i += GROUP) await to.inventory.revoke(events.slice(i, i + GROUP));

    let auditEntries = 0;
    let text = "";
    for await (const { text: line } of from.audit.entries()) {
      if (line.length === 0) continue;
      text += `${line}\n`;
      auditEntries += 1;
      if (auditEntries % GROUP === 0) {
        await to.audit.appendLines(text);
        text = "";
      }
    }
    if (text) await to.audit.appendLines(text);
    const head: AuditHead | undefined = await from.audit.readHead();
    if (head) await to.audit.writeHead(head);

    await to.state.create(state);

    // The destination, read back: the same counts, and a chain that verifies under the certified audit key.
    let copied = 0;
    for await (const _ of to.inventory.query({}, now)) copied += 1;
    const copiedEvents = (await to.inventory.revocationEventsSince(0)).entries.length;
    const verdict = await verifyAuditLog({ audit: new AuditLog(to.audit, () => now), policyArc: state.policyArc ?? LEGACY_TRUSTLINE_ARC, state });
    if (copied !== certificates || copiedEvents !== events.length || !verdict.intact || verdict.entries !== auditEntries) {
      throw new TrustlineError("STORE_CORRUPT", `the copy at ${to.where} does not match its source: ${copied}/${certificates} certificates, ${copiedEvents}/${events.length} revocation events, audit ${verdict.intact ? `${verdict.entries}/${auditEntries} entries` : `not intact (${verdict.problem})`}; do not use it`, {
        details: { copied, certificates, copiedEvents, events: events.length },
      });
    }
    return { from: from.where, to: to.where, certificates, revocationEvents: events.length, auditEntries, auditHead: head ? { seq: head.seq, hash: head.hash } : null, auditIntact: true };
  });
}

/**
 * `store copy` between a home folder or a database URL and another: opens both sides (a database
 * destination is migrated when empty and refused when it holds a home; a folder destination must
 * be new or empty), copies, and for a folder source brings its key files along (`outHome`: the
 * station folder of a database destination, store.json and keys). A failed copy leaves the
 * destination as it was.
 */
export async function copyHome(options: { from: string; to: string; outHome?: string; passwordFile?: string; env?: NodeJS.ProcessEnv; progress?: CopyProgress }): Promise<CopySummary & { keysCopied: boolean; outHome: string | null }> {
  const env = options.env ?? process.env;
  const dbOptions = { ...(options.passwordFile ? { passwordFile: options.passwordFile } : {}), env };
  const fresh = (dir: string) => {
    if (existsSync(dir) && readdirSync(dir).length > 0) throw new TrustlineError("ALREADY_EXISTS", `${dir} exists and is not empty; copy into a new folder`);
  };

  let fromDir: string | undefined;
  let from: HomeStorage;
  if (isDatabaseUrl(options.from)) {
    from = await openPostgresStorage(options.from, dbOptions);
  } else {
    fromDir = resolve(options.from);
    if (!existsSync(fromDir)) throw new TrustlineError("NOT_FOUND", `no CA home at ${fromDir}`);
    from = await openHomeStorage(fromDir, env);
  }
  const created: string[] = [];
  let discard: (() => Promise<void>) | undefined;
  try {
    let to: HomeStorage;
    let toDir: string | undefined;
    if (isDatabaseUrl(options.to)) {
      const made = await createPostgresStorage(options.to, dbOptions);
      to = made.storage;
      discard = made.discard;
      toDir = options.outHome ? resolve(options.outHome) : undefined;
    } else {
      if (options.outHome) throw new TrustlineError("USAGE", "--out-home is for a database destination: a folder destination is itself the new home");
      toDir = resolve(options.to);
      to = embeddedStorage(toDir);
    }
    if (toDir) {
      fresh(toDir);
      mkdirSync(toDir, { recursive: true, mode: 0o700 });
      created.push(toDir);
    }
    const summary = await copyStore(from, to, { ...(options.progress ? { progress: options.progress } : {}) });
    let keysCopied = false;
    if (toDir && fromDir && existsSync(join(fromDir, "keys"))) {
      cpSync(join(fromDir, "keys"), join(toDir, "keys"), { recursive: true, preserveTimestamps: true });
      keysCopied = true;
    }
    if (toDir && isDatabaseUrl(options.to)) {
      writeFileAtomic(join(toDir, STORE_CONFIG), `${JSON.stringify({ format: "trustline-store/1", url: options.to, ...(options.passwordFile ? { passwordFile: resolve(options.passwordFile) } : {}) }, null, 2)}\n`, { mode: 0o600 });
    }
    await to.close();
    discard = undefined;
    return { ...summary, keysCopied, outHome: isDatabaseUrl(options.to) ? (toDir ?? null) : null };
  } catch (e) {
    await discard?.();
    for (const dir of created) rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    await from.close();
  }
}
