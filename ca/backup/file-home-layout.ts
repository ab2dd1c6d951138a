/**
 * Which files of a file home an archive holds, and what they add up to. The derived index
 * (inventory/index/), the stored CRLs (crl/) and the lock are left out: the index is rebuilt from
 * the segments on restore, `serve` issues CRLs again, and a lock belongs to a running process.
 */
import type { FileTally } from "./file-tally.js";
import { damaged } from "./header.js";
import type { BackupAuditHead, BackupCounts, BackupManifest } from "./manifest.js";

export const STATE_FILE = "state.json";
export const KEYS_DIR = "keys";
export const SEGMENTS_DIR = "inventory/segments";
export const REVOCATION_LOG = "inventory/revocations.jsonl";
export const AUDIT_LOG = "audit/log.jsonl";
export const AUDIT_HEAD = "audit/head.json";

const SEGMENT = /^inventory\/segments\/\d{8}\.jsonl$/;
const KEY_FILE = /^keys\/[A-Za-z0-9._-]+$/;

/** The files a file home cannot be without. */
const REQUIRED = [STATE_FILE, REVOCATION_LOG, AUDIT_LOG, AUDIT_HEAD] as const;

export function isFileHomePath(path: string): boolean {
  return path === STATE_FILE || path === REVOCATION_LOG || path === AUDIT_LOG || path === AUDIT_HEAD || SEGMENT.test(path) || KEY_FILE.test(path);
}

/** What the files say: one certificate per segment line, one event per revocation-log line, the audit log's last line is the head. */
export function summarizeFileHome(files: readonly FileTally[]): { counts: BackupCounts; auditHead: BackupAuditHead | null } {
  let certificates = 0;
  let revocationEvents = 0;
  let auditEntries = 0;
  let auditHead: BackupAuditHead | null = null;
  for (const f of files) {
    if (SEGMENT.test(f.path)) certificates += f.lines;
    else if (f.path === REVOCATION_LOG) revocationEvents += f.lines;
    else if (f.path === AUDIT_LOG) {
      auditEntries = f.lines;
      auditHead = f.lines === 0 ? null : headOf(f.lastLine);
    }
  }
  return { counts: { certificates, revocationEvents, auditEntries }, auditHead };
}

function headOf(line: string | undefined): BackupAuditHead | null {
  try {
    const entry = JSON.parse(line ?? "") as { seq?: unknown; hash?: unknown } | null;
    if (entry && Number.isSafeInteger(entry.seq) && typeof entry.hash === "string") return { seq: entry.seq as number, hash: entry.hash };
  } catch {
    /* an unreadable last entry has no head: `audit verify` names it */
  }
  return null;
}

/**
 * Check the files read from an archive against its manifest: every path is one a file home holds,
 * the required files are there, and the counts and chain head are what the manifest says.
 */
export function checkFileHomeArchive(manifest: BackupManifest, files: readonly FileTally[], source: string): void {
  const stray = manifest.files.find((f) => !isFileHomePath(f.path));
  if (stray) throw damaged("damaged-manifest", `${source} names ${JSON.stringify(stray.path)}, which is not a file of a CA home`);
  const missing = REQUIRED.filter((p) => !manifest.files.some((f) => f.path === p));
  if (missing.length > 0) throw damaged("incomplete", `${source} lacks ${missing.join(", ")}: it is not a whole CA home`);
  const { counts, auditHead } = summarizeFileHome(files);
  const differ = (Object.keys(counts) as (keyof BackupCounts)[]).filter((k) => counts[k] !== manifest.counts[k]);
  if (differ.length > 0) {
    throw damaged("counts", `${source} holds ${differ.map((k) => `${counts[k]} ${k}`).join(", ")}, but its manifest says ${differ.map((k) => `${manifest.counts[k]}`).join(", ")}`, {
      counts,
      manifest: manifest.counts,
    });
  }
  if (JSON.stringify(auditHead) !== JSON.stringify(manifest.auditHead)) {
    throw damaged("audit-head", `the audit log in ${source} ends at ${auditHead ? `entry ${auditHead.seq}` : "no entry"}, but its manifest names ${manifest.auditHead ? `entry ${manifest.auditHead.seq}` : "none"}`);
  }
}
