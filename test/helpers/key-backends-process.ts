/**
 * A KeyBackends in a child process, driven over JSON lines. Why: a loopback vault's TLS
 * certificate can only be trusted through NODE_EXTRA_CA_CERTS, which node reads at start-up, so
 * the backend under test runs in a process started with it while the fake vault answers from the
 * test's own event loop. Each child is also a genuinely fresh backend (nothing cached from another).
 *
 * Run as a script, this file is the child; imported, it is the parent's handle on one.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { isTrustlineError } from "../../ca/errors.js";
import type { KeyWrapper } from "../../ca/keys/backend.js";
import { KeyBackends } from "../../ca/keys/registry.js";

const CHILD_FLAG = "--key-backends-child";

/** An error from the child, as TrustlineError.toJSON gives it (code UNEXPECTED for anything else). */
export class ChildKeyError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}

export interface KeyBackendsProcess {
  /** The new wrapper's URI. */
  createWrapper(label: string, store: string): Promise<string>;
  /** Opens the wrapper `uri` names (or reuses it once opened) and wraps. */
  wrap(uri: string, plaintext: Uint8Array): Promise<Buffer>;
  unwrap(uri: string, wrapped: Uint8Array): Promise<Buffer>;
  close(): Promise<void>;
}

type Call = { op: "createWrapper"; label: string; store: string } | { op: "wrap" | "unwrap"; uri: string; hex: string };
type Request = Call & { id: number };
type Reply = { id: number; ok: string } | { id: number; error: { code: string; message: string; details: Record<string, unknown> } };

/** Start a child whose KeyBackends reads `env` (and only `env`, beside PATH). */
export function startKeyBackendsProcess(env: Record<string, string>): KeyBackendsProcess {
  const child: ChildProcessByStdio<Writable, Readable, null> = spawn(process.execPath, [fileURLToPath(import.meta.url), CHILD_FLAG], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["pipe", "pipe", "inherit"] });
  const pending = new Map<number, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  let next = 0;
  createInterface({ input: child.stdout }).on("line", (line) => {
    const reply = JSON.parse(line) as Reply;
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if ("ok" in reply) waiter?.resolve(reply.ok);
    else waiter?.reject(new ChildKeyError(reply.error.code, reply.error.message, reply.error.details));
  });
  child.on("exit", (status) => {
    for (const w of pending.values()) w.reject(new Error(`the key backends process exited (${status})`));
    pending.clear();
  });
  const call = (request: Call): Promise<string> =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      child.stdin.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  return {
    createWrapper: (label, store) => call({ op: "createWrapper", label, store }),
    wrap: async (uri, plaintext) => Buffer.from(await call({ op: "wrap", uri, hex: Buffer.from(plaintext).toString("hex") }), "hex"),
    unwrap: async (uri, wrapped) => Buffer.from(await call({ op: "unwrap", uri, hex: Buffer.from(wrapped).toString("hex") }), "hex"),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.stdin.end();
      }),
  };
}

/** The child: one KeyBackends, requests answered in order of completion, exit when stdin closes. */
async function serve(): Promise<void> {
  const backends = new KeyBackends({ homeDir: process.cwd(), env: process.env });
  const wrappers = new Map<string, Promise<KeyWrapper>>();
  const wrapper = (uri: string) => {
    let w = wrappers.get(uri);
    if (!w) {
      w = backends.openWrapper(uri);
      w.catch(() => wrappers.delete(uri));
      wrappers.set(uri, w);
    }
    return w;
  };
  const answer = async (request: Request): Promise<string> => {
    if (request.op === "createWrapper") {
      const made = await backends.createWrapper(request.label, request.store);
      wrappers.set(made.uri, Promise.resolve(made));
      return made.uri;
    }
    const w = await wrapper(request.uri);
    const input = Buffer.from(request.hex, "hex");
    return Buffer.from(request.op === "wrap" ? await w.wrap(input) : await w.unwrap(input)).toString("hex");
  };
  const running: Promise<void>[] = [];
  for await (const line of createInterface({ input: process.stdin })) {
    const request = JSON.parse(line) as Request;
    running.push(
      answer(request).then(
        (ok) => void process.stdout.write(`${JSON.stringify({ id: request.id, ok })}\n`),
        (e: unknown) => {
          const error = isTrustlineError(e) ? e.toJSON() : { code: "UNEXPECTED", message: String((e as Error)?.stack ?? e), details: {} };
          process.stdout.write(`${JSON.stringify({ id: request.id, error })}\n`);
        },
      ),
    );
  }
  await Promise.all(running);
  await backends.close();
}

// Only as the child: `node --test dist/test/` also runs this file, and must not wait on its stdin.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === CHILD_FLAG) await serve();
