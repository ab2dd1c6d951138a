/**
 * `trustline serve --workers N`: one process issues CRLs and responder certificates (the only one
 * that writes), N worker processes share the port and answer OCSP and CRL requests (serving the
 * CRLs kept in the home's store), each signing its OCSP responses itself. Signing per response is what limits one process (a request with a
 * nonce cannot be answered from a cache); more processes use more cores.
 *
 * The passphrase and a token PIN reach the workers over the IPC channel node:cluster sets up: never
 * through the environment, argv or a file.
 */
import { isTrustlineError } from "../errors.js";
import { KEY_BACKEND_SECRETS, scrubbedEnvironment } from "../secret-environment.js";
import cluster, { type Worker } from "node:cluster";
import { Home, type HomeOptions } from "../home.js";
import { startServer, type RunningServer } from "./server.js";
import { startEstServer, type EstLimits, type EstOptions } from "../est/service.js";

/** `serve --est` in every worker: where, and the TLS identity (absent: the home's, from `ca issue-tls`). */
export interface ClusterEstOptions {
  readonly host: string;
  readonly port: number;
  readonly limits?: Partial<EstLimits>;
  readonly tls?: EstOptions["tls"];
  /** The home's TLS identity when `tls` is absent (resolved in each worker, which holds the passphrase). */
  readonly homeTls?: (home: Home) => Promise<EstOptions["tls"]>;
}

export interface ClusterOptions {
  readonly home: HomeOptions;
  readonly workers: number;
  readonly host: string;
  readonly port: number;
  readonly log: (line: string) => void;
  readonly est?: ClusterEstOptions;
}

interface WorkerStart {
  readonly kind: "trustline-serve-start";
  /** Absent for a home whose keys are all in a vault or on a token. */
  readonly passphrase?: string;
  /** The key backends' secrets from the environment (a token PIN). */
  readonly secrets: Readonly<Record<string, string>>;
}

export const isServeWorker = (): boolean => cluster.isWorker;

/** In the primary: keep the stored CRLs up to date, start the workers, restart one that dies. */
export async function serveWithWorkers(options: ClusterOptions): Promise<{ close(): Promise<void> }> {
  const home = await Home.open(options.home);
  // A home whose keys are all in a vault or on a token has no passphrase to pass on.
  const passphrase = await home.passphrase().catch((e: unknown) => {
    if (isTrustlineError(e, "PASSPHRASE_REQUIRED")) return undefined;
    throw e;
  });
  const secrets = Object.fromEntries(KEY_BACKEND_SECRETS.flatMap((name) => (home.env[name] ? [[name, home.env[name]!]] : [])));
  const publisher = await startServer(home, { http: false, log: options.log });
  let stopping = false;
  const start = (): Worker => {
    // The passphrase goes over the IPC channel below; no secret is inherited through the environment.
    const worker = cluster.fork(scrubbedEnvironment());
    // The worker asks once its listener is in place (a message sent earlier would be lost).
    worker.on("message", (m: unknown) => {
      if ((m as { kind?: string } | undefined)?.kind === "trustline-serve-ready") worker.send({ kind: "trustline-serve-start", ...(passphrase !== undefined ? { passphrase } : {}), secrets } satisfies WorkerStart);
    });
    worker.once("exit", (code, signal) => {
      if (stopping) return;
      options.log(`worker ${worker.process.pid} ended (${signal ?? code}); starting another`);
      start();
    });
    return worker;
  };
  for (let i = 0; i < options.workers; i++) start();
  return {
    close: async () => {
      stopping = true;
      await Promise.all(
        Object.values(cluster.workers ?? {}).map(
          (w) =>
            new Promise<void>((resolve) => {
              if (!w || w.isDead()) return resolve();
              w.once("exit", () => resolve());
              w.process.kill("SIGTERM");
            }),
        ),
      );
      await publisher.close();
    },
  };
}

/** In a worker: wait for the primary's start message, then answer on the shared port. */
export async function runServeWorker(options: Omit<ClusterOptions, "workers">): Promise<RunningServer> {
  const message = await new Promise<WorkerStart>((resolve) => {
    const onMessage = (m: unknown) => {
      if ((m as WorkerStart | undefined)?.kind === "trustline-serve-start") {
        process.off("message", onMessage);
        resolve(m as WorkerStart);
      }
    };
    process.on("message", onMessage);
    process.send?.({ kind: "trustline-serve-ready" });
  });
  const { passphrase } = message;
  const home = await Home.open({
    ...options.home,
    ...(passphrase !== undefined ? { passphrase: async () => passphrase } : {}),
    env: { ...(options.home.env ?? process.env), ...message.secrets },
  });
  const server = await startServer(home, { host: options.host, port: options.port, crls: "follow", log: options.log });
  const e = options.est;
  const est = e
    ? await startEstServer(home, { host: e.host, port: e.port, responder: server.responder, log: options.log, tls: e.tls ?? (await e.homeTls!(home)), ...(e.limits ? { limits: e.limits } : {}) })
    : undefined;
  return {
    ...server,
    // The IPC channel to the primary keeps a worker alive: close it once the server has stopped.
    close: async () => {
      await est?.close();
      await server.close();
      process.disconnect?.();
    },
  };
}
