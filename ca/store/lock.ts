/**
 * An exclusive lock on a CA home, so that two processes (two stations' scripts, two batches) never
 * interleave their writes. The lock is a file created with O_EXCL holding the owner's pid and host;
 * a lock left by a process that died on this host is taken over.
 *
 * Processes take turns. One that commits back to back (a batch, the EST service) releases the lock
 * and takes it again within microseconds, while a process waiting for it sleeps between tries:
 * measured with two `serve --est` processes on one home, the requests' p99 was 629-936 ms. So the
 * first waiter writes its name to `<lock>.next` and tries every millisecond, and a process about
 * to take the lock lets a live waiter go first (for at most NEXT_TURN_MS): the p99 became 69-82 ms.
 */
import { hostname } from "node:os";
import { closeSync, openSync, readSync, statSync, unlinkSync, utimesSync, writeSync } from "node:fs";
import { TrustlineError } from "../errors.js";

const HOST = hostname();

/**
 * The owner line of a lock file (or `.next`), read only as far as an owner line can go: anyone who
 * can write the home could leave a huge file there, and every try would read it whole.
 */
function readOwner(path: string): string {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(512);
    return buf.toString("utf8", 0, readSync(fd, buf, 0, buf.length, 0));
  } finally {
    closeSync(fd);
  }
}

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
    text = readOwner(path);
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
    if (readOwner(path) === text) unlinkSync(path);
  } catch {
    /* someone else broke it first */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a process about to take the lock lets the waiter named in `.next` go first. */
const NEXT_TURN_MS = 20;
/** A `.next` not refreshed for this long was left by a waiter that died or gave up: it does not count. */
const NEXT_STALE_MS = 1_000;
const NEXT_OWNER = `${process.pid} ${HOST}\n`;

/** Whether `.next` was refreshed lately (its waiter is alive and still waiting). Throws when it is gone. */
const nextIsFresh = (next: string): boolean => Date.now() - statSync(next).mtimeMs < NEXT_STALE_MS;

/** The waiter named in `.next`, if it is another process's and alive (refreshed lately). */
function otherWaiting(next: string): boolean {
  try {
    return readOwner(next) !== NEXT_OWNER && nextIsFresh(next);
  } catch {
    return false;
  }
}

/** Become the next to take the lock, unless another live waiter is (a stale `.next` is removed). */
function claimNext(next: string): boolean {
  try {
    const fd = openSync(next, "wx", 0o600);
    try {
      writeSync(fd, NEXT_OWNER);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return false; // taking turns is a courtesy: never an error
    try {
      const text = readOwner(next);
      if (!nextIsFresh(next) && readOwner(next) === text) unlinkSync(next);
    } catch {
      /* gone meanwhile */
    }
    return false;
  }
}

function releaseNext(next: string): void {
  try {
    if (readOwner(next) === NEXT_OWNER) unlinkSync(next);
  } catch {
    /* gone */
  }
}

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
  const next = `${path}.next`;
  for (const turn = Date.now() + NEXT_TURN_MS; otherWaiting(next) && Date.now() < turn; ) await sleep(1);
  let isNext = false;
  let refreshed = 0;
  let wait = 1;
  try {
    while (!tryAcquire(path)) {
      breakIfStale(path);
      if (Date.now() > deadline) {
        throw new TrustlineError("STORE_CONFLICT", `the CA home is locked by another process (${path}); try again when it has finished`, { details: { lock: path } });
      }
      if (!isNext && (isNext = claimNext(next))) refreshed = Date.now();
      if (isNext) {
        if (Date.now() - refreshed > NEXT_STALE_MS / 4) {
          const now = new Date();
          try {
            utimesSync(next, now, now);
            refreshed = now.getTime();
          } catch {
            isNext = false; // judged stale and removed (this process was held up): claim again
          }
        }
        await sleep(1);
      } else {
        await sleep(wait + Math.random() * wait);
        wait = Math.min(wait * 2, 25);
      }
    }
  } finally {
    if (isNext) releaseNext(next);
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
