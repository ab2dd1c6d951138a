/**
 * `trustline serve`: what the certificates point to, over HTTP.
 *   GET  /crl/<ca>.crl          the CA's current CRL (DER, application/pkix-crl, cache headers)
 *   GET  /ca/<ca>.cer           the CA certificate (DER, application/pkix-cert)
 *   GET  /ocsp/<ca>/<base64>    OCSP (RFC 6960 appendix A.1)
 *   POST /ocsp/<ca>             OCSP, application/ocsp-request
 *   GET  /healthz               200 when serving
 * Every process serves the latest CRL of the home's store. A process that issues (the default)
 * brings it up to date when the revocation log changes (debounced) and when half its life has
 * passed; of several such processes on one store, the first to take the home's lock issues and the
 * others serve what it stored.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { TrustlineError } from "../errors.js";
import { closeAfterAnswer, readBoundedBody } from "../bounded-body.js";
import type { Home } from "../home.js";
import { caCertificateDer } from "../issue.js";
import type { StoredCrl } from "../store/home-storage.js";
import { crlPastHalfLife, currentCrl } from "./crl.js";
import { DEFAULT_CACHE_BYTES, OcspResponder } from "./ocsp-responder.js";
import { CRL_PROFILES } from "../../policy/index.js";

export interface ServeOptions {
  readonly host?: string;
  readonly port?: number;
  /**
   * "issue" (default): this process issues CRLs when the stored one is out of date (after a
   * revocation, at half-life) and stores them for every process serving the home. "follow": only
   * serve the stored one (the workers of a multi-process server: they never write).
   */
  readonly crls?: "issue" | "follow";
  /** false: keep the stored CRLs up to date only, no HTTP listener (the primary of a multi-process server). */
  readonly http?: boolean;
  /** One line per event worth telling an operator (never per request). */
  readonly log?: (line: string) => void;
  /** Bounds on what clients may hold (defaults: SERVE_LIMITS). */
  readonly limits?: Partial<ServeLimits>;
}

/** What one client, or a crowd of them, can make the server hold. */
export interface ServeLimits {
  /** Concurrent connections; more are refused at accept (node closes them). */
  readonly maxConnections: number;
  /** The request line and headers must arrive within this time (slowloris). */
  readonly headersTimeoutMs: number;
  /** The whole request, body included, within this time. */
  readonly requestTimeoutMs: number;
  /** Bytes of request headers. */
  readonly maxHeaderBytes: number;
  /** Bytes of cached OCSP responses. */
  readonly cacheBytes: number;
}

export const SERVE_LIMITS: ServeLimits = {
  maxConnections: 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxHeaderBytes: 8 * 1024,
  cacheBytes: DEFAULT_CACHE_BYTES,
};

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly responder: OcspResponder;
  /**
   * Bring the served CRLs up to date now (the server also does it by itself): issuing, in a process
   * that issues, only where the stored CRL is out of date; in a follower, reading the stored ones.
   */
  refreshCrls(): Promise<void>;
  close(): Promise<void>;
}

const MAX_REQUEST = 64 * 1024;

function send(res: ServerResponse, status: number, type: string, body: Uint8Array | string, headers: Record<string, string> = {}): void {
  // A flat [name, value, ...] list: node writes it without building a headers object (OCSP is the hot path).
  const list = ["Content-Type", type, "Content-Length", String(Buffer.byteLength(body))];
  for (const [name, value] of Object.entries(headers)) list.push(name, value);
  res.writeHead(status, list);
  res.end(body);
}

/** RFC 6960 appendix A.1: the GET path is the URL-encoded base64 of the request; undefined when it is not. */
function decodeGetRequest(encoded: string): Uint8Array | undefined {
  let text: string;
  try {
    text = decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
  return /^[A-Za-z0-9+/_=-]*$/.test(text) ? new Uint8Array(Buffer.from(text, "base64")) : undefined;
}

export async function startServer(home: Home, options: ServeOptions = {}): Promise<RunningServer> {
  const log = options.log ?? (() => undefined);
  const follow = options.crls === "follow";
  // The issuing process renews responder certificates; followers pick up what it recorded.
  const responder = await OcspResponder.open(home, { renew: !follow });
  let lastDamage = "";
  responder.onLogDamaged = (e) => {
    if (e.message !== lastDamage) log(`the revocation log cannot be read; answering from the last good state: ${e.message}`);
    lastDamage = e.message;
  };
  const crls = new Map<string, StoredCrl>();
  const caCerts = new Map(Object.values(home.state.cas).map((ca) => [ca.name, caCertificateDer(ca)] as const));
  const crlCas = Object.values(home.state.cas).filter((ca) => CRL_PROFILES[ca.profile]);

  // What this process serves is the store's latest CRL: never one older than what it already serves
  // (two answers to this process's own calls can settle out of order).
  const serve = (crl: StoredCrl) => {
    const held = crls.get(crl.ca);
    if (!held || crl.crlNumber >= held.crlNumber) crls.set(crl.ca, crl);
  };
  /** Serve what the store holds now (another process, or `trustline crl`, may have issued). */
  const followCrls = async () => {
    for (const ca of crlCas) {
      const crl = await home.storage.crls.latest(ca.name);
      if (crl) serve(crl);
    }
  };
  /** Bring every CRL up to date: the stored one while current, else one issued here (under the home's lock, once for all processes). */
  const updateCrls = async () => {
    for (const ca of crlCas) {
      const { crl, issued } = await currentCrl(home, ca.name);
      serve(crl);
      if (issued) log(`CRL ${ca.name} #${crl.crlNumber}: ${crl.entries} entries, next update ${crl.nextUpdate}`);
    }
  };
  const refreshCrls = follow ? followCrls : updateCrls;
  let refreshing: Promise<void> | undefined;
  let closed = false;
  // A change seen while an update runs may have come after it read the log: update once more then.
  let again = false;
  const scheduleRefresh = () => {
    if (refreshing) return void (again = true);
    refreshing = new Promise<void>((r) => setTimeout(r, 500))
      .then(updateCrls)
      .catch((e: unknown) => log(`CRL refresh failed: ${(e as Error).message}`))
      .finally(() => {
        refreshing = undefined;
        const pending = again && !closed;
        again = false;
        if (pending) scheduleRefresh();
      });
  };
  await refreshCrls();
  if (!follow) responder.onRevocationsChanged = scheduleRefresh;
  // PostgreSQL pushes revocations (LISTEN/NOTIFY): OCSP and the CRLs follow at once, not at the
  // next poll; the poll below stays, for a push lost with its connection.
  const stopWatching = await home.storage
    .watchRevocations?.(
      () => void responder.wake().catch(() => undefined), // a damaged log is reported by the poll
      (e) => log(`revocations are no longer pushed by the database (${e.message}); polling for them`),
    )
    .catch((e: unknown) => void log(`revocations cannot be pushed by the database (${(e as Error).message}); polling for them`));
  // A poll of the revocation log even when no OCSP request arrives; the store's latest CRLs; and
  // in a process that issues, a new CRL once one has reached half its life.
  let ticking: Promise<void> | undefined;
  const timer = setInterval(() => {
    void responder.poll();
    // A slow store: one read at a time.
    ticking ??= followCrls()
      .then(() => {
        if (follow) return;
        const now = home.clock();
        for (const crl of crls.values()) if (crlPastHalfLife(crl, now)) scheduleRefresh();
      })
      .catch((e: unknown) => log(`reading the stored CRLs failed: ${(e as Error).message}`))
      .finally(() => (ticking = undefined));
  }, follow ? 250 : 1000);
  timer.unref();
  const hourly = setInterval(() => {
    responder.loadIdentities(!follow).catch((e: unknown) => log(`responder renewal failed: ${(e as Error).message}`));
  }, 3_600_000);
  hourly.unref();

  if (options.http === false) {
    return {
      url: "",
      port: 0,
      responder,
      refreshCrls,
      close: async () => {
        closed = true;
        clearInterval(timer);
        clearInterval(hourly);
        await Promise.all([refreshing, ticking, stopWatching?.()]);
      },
    };
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // The path alone (no WHATWG URL parse per request: OCSP is the hot path).
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const path = q === -1 ? raw : raw.slice(0, q);
    let m: RegExpExecArray | null;
    if (req.method === "GET" && (m = /^\/crl\/([a-z0-9-]+)\.crl$/.exec(path))) {
      const crl = crls.get(m[1]!);
      if (!crl) return send(res, 404, "text/plain", "no such CRL\n");
      const etag = `"${crl.ca}-${crl.crlNumber}"`;
      const maxAge = Math.max(0, Math.min(300, Math.floor((Date.parse(crl.nextUpdate) - Date.now()) / 1000)));
      const headers = { ETag: etag, "Last-Modified": new Date(crl.thisUpdate).toUTCString(), Expires: new Date(crl.nextUpdate).toUTCString(), "Cache-Control": `public, max-age=${maxAge}, no-transform` };
      if (req.headers["if-none-match"] === etag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      return send(res, 200, "application/pkix-crl", crl.der, headers);
    }
    if (req.method === "GET" && (m = /^\/ca\/([a-z0-9-]+)\.cer$/.exec(path))) {
      const der = caCerts.get(m[1]!);
      return der ? send(res, 200, "application/pkix-cert", der, { "Cache-Control": "public, max-age=86400" }) : send(res, 404, "text/plain", "no such CA\n");
    }
    if ((m = /^\/ocsp\/([a-z0-9-]+)(?:\/(.*))?$/.exec(path))) {
      let body: Uint8Array | undefined;
      if (req.method === "POST") {
        body = await readBoundedBody(req, MAX_REQUEST);
        if (body === undefined) {
          closeAfterAnswer(req, res);
          return send(res, 413, "text/plain", `an OCSP request is at most ${MAX_REQUEST} bytes\n`, { Connection: "close" });
        }
      }
      else if (req.method === "GET" && m[2] !== undefined) body = decodeGetRequest(m[2]);
      else return send(res, 405, "text/plain", "use GET /ocsp/<ca>/<base64 request> or POST\n");
      // Anything unreadable (too large, not base64) is a malformedRequest, answered like any other.
      const der = await responder.respond(m[1]!, body ?? new Uint8Array(0));
      return send(res, 200, "application/ocsp-response", der, { "Cache-Control": "no-cache" });
    }
    if (path === "/healthz") return send(res, 200, "text/plain", "ok\n");
    return send(res, 404, "text/plain", "not found\n");
  };

  const limits = { ...SERVE_LIMITS, ...options.limits };
  responder.cacheLimit = limits.cacheBytes;
  const server: Server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // How often node looks for connections past those timeouts (its default, 30 s, would let a slow client stay that long).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    (req, res) => {
      handle(req, res).catch((e: unknown) => {
        log(`request failed: ${(e as Error).message}`);
        if (!res.headersSent) send(res, 500, "text/plain", "internal error\n");
        else res.destroy();
      });
    },
  );
  server.keepAliveTimeout = 5000;
  server.maxConnections = limits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new TrustlineError("CONFIG_INVALID", `cannot listen on ${options.host ?? "127.0.0.1"}:${options.port ?? 8080}: ${e.code ?? e.message}`)),
    );
    server.listen(options.port ?? 8080, options.host ?? "127.0.0.1", () => resolve());
  }).catch(async (e: unknown) => {
    // Nothing left running: the watch holds a database connection the home's close would wait for.
    closed = true;
    clearInterval(timer);
    clearInterval(hourly);
    await Promise.all([refreshing, ticking, stopWatching?.()]);
    throw e;
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    responder,
    refreshCrls,
    close: async () => {
      closed = true;
      clearInterval(timer);
      clearInterval(hourly);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await Promise.all([refreshing, ticking, stopWatching?.()]);
    },
  };
}
