/**
 * The manifest: the first thing in an archive's encrypted content (u32 big-endian length, then
 * JSON), saying what the archive holds. The files follow it, in its order, back to back.
 */
import { damaged } from "./header.js";

/**
 * What kind of home an archive was taken from: an embedded home's files, or a home in PostgreSQL.
 * Both use the same layout (file-home-layout.ts), so either restores the same way.
 */
export type BackupSourceKind = "file-home" | "postgres";

const SOURCE_KINDS: readonly string[] = ["file-home", "postgres"] satisfies BackupSourceKind[];

export interface BackupCounts {
  /** Certificate records in the inventory. */
  readonly certificates: number;
  /** Events in the revocation log (revocations, holds and their releases). */
  readonly revocationEvents: number;
  readonly auditEntries: number;
}

/** The audit chain's newest entry when the snapshot was taken. */
export interface BackupAuditHead {
  readonly seq: number;
  readonly hash: string;
}

export interface ArchivedFile {
  /** Relative, with `/`: `state.json`, `keys/root.key.pem`, `inventory/segments/00000001.jsonl`... */
  readonly path: string;
  readonly size: number;
  /** SHA-256, hex. */
  readonly sha256: string;
}

export interface BackupManifest {
  readonly format: "trustline-backup/1";
  readonly source: BackupSourceKind;
  readonly createdAt: string;
  readonly organization: string;
  readonly files: readonly ArchivedFile[];
  readonly counts: BackupCounts;
  readonly auditHead: BackupAuditHead | null;
}

/** Largest manifest read (a home of 2 GB lists a few dozen files). */
export const MAX_MANIFEST_BYTES = 16 << 20;

/** A path an archive may name: relative, plain segments, no `..`, no control characters. */
export function archivePathProblem(path: string): string | undefined {
  if (path.length === 0 || path.length > 255) return "an empty or overlong path";
  if (path.startsWith("/") || path.includes("\\")) return `an absolute or backslashed path (${JSON.stringify(path)})`;
  if (/[\u0000-\u001f\u007f]/.test(path)) return "a path with control characters";
  if (path.split("/").some((s) => s === "" || s === "." || s === "..")) return `a path that is not plain (${JSON.stringify(path)})`;
  return undefined;
}

const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const hex64 = (v: unknown): v is string => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);

/** Parse the manifest's JSON; INPUT_INVALID for anything that is not exactly a manifest. */
export function parseManifest(bytes: Buffer, source: string): BackupManifest {
  const bad = (what: string) => damaged("damaged-manifest", `the manifest of ${source} is not valid: ${what}`);
  let m: Partial<BackupManifest> | null;
  try {
    m = JSON.parse(bytes.toString("utf8")) as Partial<BackupManifest> | null;
  } catch {
    throw bad("not JSON");
  }
  if (m === null || typeof m !== "object") throw bad("not an object");
  if (m.format !== "trustline-backup/1") throw bad(`format ${String(m.format)}`);
  if (typeof m.source !== "string" || !SOURCE_KINDS.includes(m.source)) throw bad(`source ${String(m.source)} (this Trustline reads ${SOURCE_KINDS.join(" and ")} archives)`);
  if (typeof m.createdAt !== "string" || Number.isNaN(Date.parse(m.createdAt))) throw bad("createdAt");
  if (typeof m.organization !== "string") throw bad("organization");
  const c = m.counts;
  if (c === null || typeof c !== "object" || !count(c.certificates) || !count(c.revocationEvents) || !count(c.auditEntries)) throw bad("counts");
  const h = m.auditHead;
  if (h !== null && (typeof h !== "object" || h === undefined || !count(h.seq) || !hex64(h.hash))) throw bad("auditHead");
  if (!Array.isArray(m.files)) throw bad("files");
  const seen = new Set<string>();
  for (const f of m.files as unknown[]) {
    const file = f as Partial<ArchivedFile> | null;
    if (file === null || typeof file !== "object" || typeof file.path !== "string" || !count(file.size) || !hex64(file.sha256)) throw bad("a file entry");
    const problem = archivePathProblem(file.path);
    if (problem) throw bad(problem);
    if (seen.has(file.path)) throw bad(`${file.path} is listed twice`);
    seen.add(file.path);
  }
  return m as BackupManifest;
}
