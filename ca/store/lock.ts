/**
 * An exclusive lock on a CA home, so that two processes (two stations' scripts, two batches) never
 * interleave their writes. The lock is a file created with O_EXCL holding the owner's pid and host;
 * a lock left by a process that died on this host is taken over.
 */
import { hostname } from "node:os";
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { TrustlineError } from "../errors.js";

const HOST = hostname();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function tryAcquire(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    return false;
  }
  try {
    writeSync(fd, `${process.pid} ${HOST} ${new Date().toISOString()}\n`);
  } catch (e) {
    // A full disk: never leave an empty lock behind, which no one could tell from a live one.
    closeSync(fd);
    unlinkSync(path);
    throw e;
  }
  closeSync(fd);
  return true;
}

/** An unreadable owner line older than this is a lock whose owner died between creating and writing it. */
const UNWRITTEN_LOCK_MS = 10_000;

/** Remove the lock file if its owner is a dead process on this host, or it never got an owner line. */
function breakIfStale(path: string): void {
  let text: string;
  let age: number;
  try {
    text = readFileSync(path, "utf8");
    age = Date.now() - statSync(path).mtimeMs;
  } catch {
    return; // released meanwhile
  }
  const [pidText, host] = text.split(" ");
  const pid = Number(pidText);
  const owned = Number.isInteger(pid) && pid > 0 && host !== undefined;
  if (owned && (host !== HOST || alive(pid))) return;
  if (!owned && age < UNWRITTEN_LOCK_MS) return; // being written right now
  try {
    // Re-read right before unlinking: only remove the exact lock we judged stale.
    if (readFileSync(path, "utf8") === text) unlinkSync(path);
  } catch {
    /* someone else broke it first */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** In-process queue per lock path: async callers in one process take turns before touching the file. */
const queues = new Map<string, Promise<unknown>>();

/** Run `fn` holding the home's lock. Not re-entrant: never call withLock inside `fn`. */
export function withLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => holdFileLock(path, fn, timeoutMs));
  const settled = run.catch(() => undefined);
  queues.set(path, settled);
  void settled.then(() => {
    if (queues.get(path) === settled) queues.delete(path);
  });
  return run;
}

async function holdFileLock<T>(path: string, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let wait = 1;
  while (!tryAcquire(path)) {
    breakIfStale(path);
    if (Date.now() > deadline) {
      throw new TrustlineError("STORE_CONFLICT", `the CA home is locked by another process (${path}); try again when it has finished`, { details: { lock: path } });
    }
    await sleep(wait + Math.random() * wait);
    wait = Math.min(wait * 2, 25);
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(path);
    } catch {
      /* removed by hand; nothing to release */
    }
  }
}
