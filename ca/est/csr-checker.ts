/**
 * The EST service's CSR checks on a worker thread: the batch's worker (ca/batch/worker.ts) parses,
 * verifies the proof of possession, applies the device profile and encodes the TBSCertificate,
 * while the service's own thread does TLS, HTTP, sign-in, signing and commits. Measured under load:
 * those checks were a third of the service thread's time, with the second core 40% idle.
 *
 * One message is in flight at a time: the requests that arrive while the worker is busy go to it
 * together when it answers, so a message's cost (a wake-up of the other thread) is paid per group.
 * The worker's issuer facts are the home's as of the request: when the state changes them
 * (organization, base URL, URI template), the next requests go to a fresh worker, as they do when
 * a worker has died.
 */
import type { WorkerSetup, WorkResult } from "../batch/protocol.js";
import { WorkerPool } from "../batch/worker-pool.js";

/** One thread: on the reference machine's two cores, the other one runs the service. */
const THREADS = 1;

interface Waiting {
  readonly csr: Uint8Array;
  readonly resolve: (r: WorkResult) => void;
  readonly reject: (e: unknown) => void;
}

export class CsrChecker {
  readonly #setup: () => WorkerSetup;
  readonly #clock: () => Date;
  #pool: WorkerPool;
  #facts: string;
  #outgoing: Waiting[] = [];
  /** The message with the worker, until it is answered. */
  #inFlight: Promise<void> | undefined;
  /** A message is with the worker (or about to be sent): what arrives now waits for its answer. */
  #busy = false;
  #closed = false;

  /** `setup` is asked again for every message: a change of its issuer facts starts a new worker. */
  constructor(setup: () => WorkerSetup, clock: () => Date) {
    this.#setup = setup;
    this.#clock = clock;
    const first = setup();
    this.#pool = new WorkerPool(THREADS, first);
    this.#facts = JSON.stringify(first.issuer);
  }

  /** The worker's verdict on one DER request. */
  check(csr: Uint8Array): Promise<WorkResult> {
    if (this.#closed) return Promise.reject(new Error("the CSR checker is closed"));
    return new Promise<WorkResult>((resolve, reject) => {
      // A copy: the message moves its buffer, and the caller's may be a slice of a shared pool.
      this.#outgoing.push({ csr: new Uint8Array(csr), resolve, reject });
      if (!this.#busy) {
        this.#busy = true;
        setImmediate(() => this.#send()); // after the other requests read in this turn of the event loop
      }
    });
  }

  #send(): void {
    const waiting = this.#outgoing;
    this.#outgoing = [];
    if (waiting.length === 0) {
      this.#busy = false;
      return;
    }
    if (this.#closed) {
      for (const w of waiting) w.reject(new Error("the CSR checker is closed"));
      return;
    }
    let pool: WorkerPool;
    try {
      pool = this.#current();
    } catch (e) {
      for (const w of waiting) w.reject(e); // no thread could be started: these requests fail, the next try again
      this.#busy = false;
      return;
    }
    const run = pool
      .run({ items: waiting.map((w, index) => ({ index, csr: w.csr })), now: this.#clock().getTime() })
      .then(
        (results) => {
          for (const r of results) waiting[r.index]!.resolve(r);
        },
        (e: unknown) => {
          for (const w of waiting) w.reject(e);
        },
      );
    this.#inFlight = run.finally(() => {
      this.#inFlight = undefined;
      this.#send(); // what gathered meanwhile, or idle
    });
  }

  /** The pool for the next message: a new one when the issuer facts changed or a worker died. */
  #current(): WorkerPool {
    const setup = this.#setup();
    const facts = JSON.stringify(setup.issuer);
    if (facts !== this.#facts || this.#pool.failure) {
      void this.#pool.close(); // nothing is in flight: a message is sent only once the last was answered
      this.#pool = new WorkerPool(THREADS, setup);
      this.#facts = facts;
    }
    return this.#pool;
  }

  /** Stop the worker once the checks already sent are answered. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#inFlight;
    await this.#pool.close();
  }
}
