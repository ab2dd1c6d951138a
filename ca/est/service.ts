/**
 * `trustline serve --est`: Enrollment over Secure Transport (RFC 7030, RFC 8951) over mutual TLS,
 * so that stations and devices hold only their own credentials and the CA keys stay with the
 * server.
 *
 *   GET  /.well-known/est[/<ca>]/cacerts         the CA chain, certs-only CMS (no client certificate needed)
 *   GET  /.well-known/est[/<ca>]/csrattrs        what a CSR should hold (RFC 7030 §4.5)
 *   POST /.well-known/est[/<ca>]/simpleenroll    a station's client certificate + an operator's
 *                                                shift session (Authorization: Bearer): a device certificate
 *   POST /.well-known/est[/<ca>]/simplereenroll  a device's own certificate: its renewal
 *   POST /trustline/login                        (not EST) a station's certificate + an operator's TOTP
 *                                                code: a shift session opened at that station
 *
 * <ca> is the label of an issuing CA of this home (a device CA); none: the CA named "device".
 * Every request goes through the one pipeline (policy, audit, store, key backend) with its own
 * trace: the operator whose session it is, at the station whose certificate opened the
 * connection, through the EST service. Refusals have the pipeline's codes and a readable reason.
 */
import { createServer as createHttpsServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { KeyObject } from "node:crypto";
import { renewalProblem } from "../../policy/index.js";
import { isTrustlineError, TrustlineError } from "../errors.js";
import { closeAfterAnswer, readBoundedBody } from "../bounded-body.js";
import type { Home } from "../home.js";
import type { Principal } from "../operators/model.js";
import type { OcspResponder } from "../revocation/ocsp-responder.js";
import { chainToRoot, identifyStation, type StationRefusal } from "../stations/stations.js";
import { derFromPemOrDer } from "../pem.js";
import { statusAt, type CertificateRecord } from "../store/types.js";
import { serialOfCertificate } from "../x509/cert-fields.js";
import { Enroller, type EnrollmentRequest } from "./enroller.js";
import { openSession, parseTtl } from "../operators/sessions.js";
import { RateLimiter } from "./rate-limit.js";
import { certsOnly, csrAttributes, decodeBase64Body, encodeBase64Body, MEDIA } from "./wire.js";

export interface EstLimits {
  /** Bytes of a request body (a base64 CSR of an RSA-4096 key is under 3 KiB). */
  readonly maxBodyBytes: number;
  /** The TLS handshake must finish within this time. */
  readonly handshakeTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** An idle kept-alive connection is closed after this time. */
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
  /** Enrollments a second per station (and renewals per device), on average; 0: no limit. */
  readonly ratePerStation: number;
  /** How many at once before the rate applies (default twice the rate). */
  readonly burst?: number;
}

export const EST_LIMITS: EstLimits = {
  maxBodyBytes: 32 * 1024,
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 30_000,
  maxConnections: 1024,
  ratePerStation: 500,
};

export interface EstOptions {
  readonly host?: string;
  readonly port?: number;
  /** The server's TLS identity: its key, and its certificate followed by the chain (PEM). */
  readonly tls: { readonly key: KeyObject | string; readonly certificatePem: string; readonly chainPem?: readonly string[] };
  /** The revocation view of the running `serve` (stations and devices revoked are refused). */
  readonly responder: OcspResponder;
  readonly limits?: Partial<EstLimits>;
  readonly log?: (line: string) => void;
}

export interface RunningEstServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const PATH = /^\/\.well-known\/est\/(?:([a-z0-9-]{1,64})\/)?(cacerts|csrattrs|simpleenroll|simplereenroll)$/;
/** How often the server re-reads the home's state (a station disabled, a session revoked or opened elsewhere). */
const STATE_REFRESH_MS = 1_000;
/** The shortest time between two re-reads of the state for requests naming what it does not know. */
const MISS_REREAD_GAP_MS = 25;

/** An answer with a status and a readable reason (RFC 7030 §4.2.3: a human-readable body). */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const STATION_EXPLAIN: Readonly<Record<StationRefusal, string>> = {
  "not-a-station": "the client certificate is not a station certificate: enroll through a station (`trustline station add`)",
  "unknown-station": "the client certificate was not issued by this CA home",
  disabled: "the station is disabled: an admin can enable it (`trustline station enable`)",
  revoked: "the station's certificate is revoked",
  expired: "the station's certificate has expired: an admin can issue a new one (`trustline station add --replace`)",
  superseded: "the station's certificate was replaced by a newer one: install the new certificate",
};

/** The request's media type, lowercase, without parameters. */
const mediaType = (req: IncomingMessage): string => (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": type, "Content-Length": String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

/** The body, or a 413 once it passes `limit` (reading stops: a client cannot make the server hold more). */
async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const body = await readBoundedBody(req, limit);
  if (body === undefined) throw new Refusal(413, `an EST request body is at most ${limit} bytes`, "INPUT_INVALID", { Connection: "close" });
  return body;
}

export async function startEstServer(home: Home, options: EstOptions): Promise<RunningEstServer> {
  const limits = { ...EST_LIMITS, ...options.limits };
  const log = options.log ?? (() => undefined);
  const responder = options.responder;
  // What every request shares is opened once: the audit signer and the data key (sessions).
  await home.auditSignerIfPassphrase();
  if (home.state.dataKey) await home.dataKey();
  const enrollers = new Map<string, Promise<Enroller>>();
  const enrollerFor = (label: string | undefined): Promise<Enroller> => {
    const name = label ?? "device";
    let e = enrollers.get(name);
    if (!e) {
      e = Enroller.open(home, name);
      e.catch(() => enrollers.delete(name));
      enrollers.set(name, e);
    }
    return e;
  };
  const caCertsOf = new Map<string, string>();
  const cacertsBody = (label: string | undefined): string => {
    const name = label ?? "device";
    let body = caCertsOf.get(name);
    if (!body) {
      body = encodeBase64Body(certsOnly(chainToRoot(home, name).map((pem) => derFromPemOrDer(Buffer.from(pem), ["CERTIFICATE"])!)));
      caCertsOf.set(name, body);
    }
    return body;
  };
  const checkLabel = (label: string | undefined) => {
    const name = label ?? "device";
    const ca = Object.hasOwn(home.state.cas, name) ? home.state.cas[name] : undefined;
    if (!ca || ca.profile !== "device-ca") throw new Refusal(404, `no device CA "${name}" in this home`, "NOT_FOUND");
  };

  // The state (stations, sessions) as of at most a second ago. A request that names a station or a
  // session the state does not know waits for a re-read begun after it arrived: what was added
  // before the request was sent is then seen, and a miss never joins a re-read already under way.
  /** When the state in hand began to be read (performance.now()). */
  let stateReadAt = performance.now();
  let refreshing: Promise<void> | undefined;
  const refreshState = (): Promise<void> => {
    if (refreshing) return refreshing;
    const startedAt = performance.now();
    refreshing = home
      .refresh()
      .then(
        () => undefined,
        (e: unknown) => log(`cannot re-read the home's state: ${(e as Error).message}`),
      )
      .finally(() => {
        stateReadAt = startedAt;
        refreshing = undefined;
      });
    return refreshing;
  };
  /**
   * Wait until the state in hand was read at or after `since` (at most the re-read in flight and one
   * more). Re-reads for misses start at least MISS_REREAD_GAP_MS apart: a station sending tokens of
   * no session cannot keep the thread re-reading the state.
   */
  const stateSince = async (since: number): Promise<void> => {
    while (stateReadAt < since) {
      // With no re-read under way, the last one began at stateReadAt.
      const gap = MISS_REREAD_GAP_MS - (performance.now() - stateReadAt);
      if (!refreshing && gap > 0) await new Promise((r) => setTimeout(r, gap));
      await refreshState();
    }
  };
  const timer = setInterval(() => void refreshState(), STATE_REFRESH_MS);
  timer.unref();

  const limiter = new RateLimiter(limits.ratePerStation, limits.burst);
  const throttle = (key: string) => {
    const wait = limiter.take(key);
    if (wait > 0) throw new Refusal(429, `too many requests from ${key}: at most ${limits.ratePerStation} a second; retry after ${wait} s`, "REMOTE_UNAVAILABLE", { "Retry-After": String(wait) });
  };

  /** The TLS client certificate (DER) of a connection, read once per connection. */
  const peers = new WeakMap<TLSSocket, Uint8Array | null>();
  /** The TLS client certificate (DER), or a 401 saying what is missing. */
  const clientCertificate = (req: IncomingMessage): Uint8Array => {
    const socket = req.socket as TLSSocket;
    let der = peers.get(socket);
    if (der === undefined) {
      const peer = socket.getPeerCertificate();
      der = peer?.raw ? new Uint8Array(peer.raw) : null;
      peers.set(socket, der);
    }
    if (der === null) throw new Refusal(401, "a client certificate is required: connect with the station's certificate and key (curl --cert/--key)", "AUTH_REQUIRED", { "WWW-Authenticate": 'Bearer realm="trustline-est"' });
    if (!socket.authorized) throw new Refusal(401, `the client certificate is not accepted: it does not chain to this CA home's root (${String(socket.authorizationError)})`, "AUTH_FAILED");
    return der;
  };

  /**
   * Audit a refused station or device, then refuse. Within its own rate: a disabled station that
   * keeps calling is refused every time, but cannot fill the audit log.
   */
  const auditedRefusals = new RateLimiter(5, 10);
  const refuseCaller = async (who: { operator: string; station: string }, reason: string, status: number, message: string): Promise<never> => {
    if (auditedRefusals.take(who.operator) === 0) {
      await home.transaction(() => home.record([{ action: "auth.fail", outcome: "rejected", ...who, session: null, origin: "est", reason, details: { via: "est" } }]));
      home.securityEvent("auth.fail", { operator: who.operator, reason, origin: "est" });
    }
    throw new Refusal(status, message, "AUTH_FAILED");
  };

  /** Connections whose certificate was found to be a station's: its name and serial (looked up once per connection). */
  const stations = new WeakMap<TLSSocket, { name: string; serial: string; notBefore: number; notAfter: number }>();
  const stationOf = async (req: IncomingMessage, arrival: number): Promise<string> => {
    const der = clientCertificate(req);
    const socket = req.socket as TLSSocket;
    const now = home.clock();
    const known = stations.get(socket);
    // On a known connection, what can change is checked on every request: the station disabled or
    // given a new certificate (the state, re-read every second), its certificate revoked or expired.
    const station = known ? home.state.stations?.[known.name] : undefined;
    if (known && station && station.status === "active" && station.serial === known.serial && now.getTime() >= known.notBefore && now.getTime() < known.notAfter) {
      await responder.poll();
      if (!responder.revocationOf(known.serial)) return known.name;
    }
    stations.delete(socket);
    let found = await identifyStation(home, der, now);
    // A station added or given a new certificate a moment ago: not a refusal until the state is current.
    if (!found.ok && (found.reason === "unknown-station" || found.reason === "superseded") && stateReadAt < arrival) {
      await stateSince(arrival);
      found = await identifyStation(home, der, now);
    }
    if (!found.ok) return refuseCaller({ operator: `station:${found.station ?? "unknown"}`, station: found.station ?? "unknown" }, `station-${found.reason}`, found.reason === "not-a-station" || found.reason === "unknown-station" ? 401 : 403, STATION_EXPLAIN[found.reason]);
    // identifyStation checked revocation itself; the cached path above asks the responder instead.
    const record = await home.inventory.getCertificate(found.station.serial);
    if (record) stations.set(socket, { name: found.station.name, serial: found.station.serial, notBefore: Date.parse(record.notBefore), notAfter: Date.parse(record.notAfter) });
    return found.station.name;
  };

  /** The operator's shift session, bound to `station`, allowed to issue device certificates. */
  const operatorAt = async (req: IncomingMessage, station: string, arrival: number): Promise<Principal> => {
    const auth = req.headers.authorization;
    const m = auth === undefined ? null : /^Bearer ([A-Za-z0-9._~+/=-]{1,256})$/.exec(auth);
    if (!m) throw new Refusal(401, "an operator's shift session is required: Authorization: Bearer <session token> (`trustline login` at this station)", "AUTH_REQUIRED", { "WWW-Authenticate": 'Bearer realm="trustline-est"' });
    const token = m[1]!;
    const id = /^tl-session\.([^.]+)\./.exec(token)?.[1];
    if (id !== undefined && !home.state.sessions?.[id]) await stateSince(arrival);
    const request = home.forRequest({ station, credential: { kind: "session", token } });
    try {
      return await request.authorize("issue.device");
    } catch (e) {
      if (isTrustlineError(e, "AUTH_FAILED")) throw new Refusal(401, e.message, e.code, { "WWW-Authenticate": 'Bearer realm="trustline-est", error="invalid_token"' });
      if (isTrustlineError(e, "FORBIDDEN")) throw new Refusal(403, e.message, e.code);
      throw e;
    }
  };

  /** The device certificate a renewal is for: this home's, valid now, not revoked, in its renewal window. */
  const renewable = async (req: IncomingMessage): Promise<CertificateRecord> => {
    const der = clientCertificate(req);
    const serial = serialOfCertificate(der);
    const record = await home.inventory.getCertificate(serial);
    const who = { operator: `device:${record?.commonName ?? serial}`, station: "est" };
    if (!record || !Buffer.from(record.der, "base64").equals(der)) return refuseCaller(who, "unknown-certificate", 401, "the client certificate was not issued by this CA home");
    await responder.poll();
    const status = statusAt(record, home.clock(), responder.revocationOf(serial));
    if (status !== "valid") return refuseCaller(who, `certificate-${status}`, 403, `the certificate being renewed is ${status}: it cannot renew itself`);
    const problem = renewalProblem(record, home.clock());
    if (problem) throw new Refusal(403, problem, "POLICY_DENIED");
    return record;
  };

  const enroll = async (req: IncomingMessage, res: ServerResponse, label: string | undefined, request: Omit<EnrollmentRequest, "csr">): Promise<void> => {
    if (mediaType(req) !== MEDIA.pkcs10) throw new Refusal(415, `send the CSR as ${MEDIA.pkcs10} (base64 of its DER)`, "INPUT_INVALID");
    const body = await readBody(req, limits.maxBodyBytes);
    const csr = decodeBase64Body(body);
    if (!csr) throw new Refusal(400, "the body is not base64: send base64 of the CSR's DER (RFC 7030 §4.2.1)", "CSR_INVALID");
    const batch = req.headers["trustline-batch"];
    const enroller = await enrollerFor(label);
    const outcome = await enroller.enroll({ ...request, csr, ...(typeof batch === "string" ? { batch } : {}) });
    if (!outcome.ok) throw new Refusal(400, `${outcome.code}: ${outcome.message}`, outcome.code);
    send(res, 200, MEDIA.certsOnly, encodeBase64Body(certsOnly([outcome.der])), { "Trustline-Serial": outcome.record.serial, ...(outcome.reused ? { "Trustline-Reused": "1" } : {}) });
  };

  /**
   * A shift session opened at the station whose certificate made the connection, by the operator's
   * TOTP code: the line PC holds no home, and the session can only be used from that station.
   * Failed codes count towards the operator's lock, as at the CA server.
   */
  const login = async (req: IncomingMessage, res: ServerResponse, arrival: number): Promise<void> => {
    if (req.method !== "POST") throw new Refusal(405, "login is POST", "USAGE", { Allow: "POST" });
    const station = await stationOf(req, arrival);
    throttle(`station ${station}`);
    if (mediaType(req) !== "application/json") throw new Refusal(415, "send the sign-in as application/json", "INPUT_INVALID");
    let body: { operator?: unknown; totp?: unknown; ttl?: unknown };
    try {
      body = JSON.parse(Buffer.from(await readBody(req, 1024)).toString("utf8")) as typeof body;
    } catch (e) {
      if (e instanceof Refusal) throw e;
      throw new Refusal(400, "the body is not JSON: {\"operator\": \"<id>\", \"totp\": \"<code>\", \"ttl\": \"8h\"}", "INPUT_INVALID");
    }
    if (typeof body?.operator !== "string" || typeof body.totp !== "string" || (body.ttl !== undefined && typeof body.ttl !== "string")) {
      throw new Refusal(400, 'give {"operator": "<id>", "totp": "<code>"} and optionally "ttl"', "INPUT_INVALID");
    }
    const ttlMs = body.ttl === undefined ? undefined : parseTtl(body.ttl);
    const request = home.forRequest({ station, credential: { kind: "totp", operator: body.operator, code: body.totp } });
    try {
      const opened = await openSession(request, { kind: "totp", operator: body.operator, code: body.totp }, ttlMs === undefined ? {} : { ttlMs });
      await stateSince(performance.now()); // its requests follow at once
      send(res, 200, "application/json", `${JSON.stringify({ token: opened.token, session: opened.session })}\n`, { "Cache-Control": "no-store" });
    } catch (e) {
      if (isTrustlineError(e, "AUTH_FAILED")) throw new Refusal(401, e.message, e.code);
      if (isTrustlineError(e, "USAGE")) throw new Refusal(400, e.message, e.code);
      throw e;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const arrival = performance.now();
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    if ((q === -1 ? raw : raw.slice(0, q)) === "/trustline/login") return login(req, res, arrival);
    const m = PATH.exec(q === -1 ? raw : raw.slice(0, q));
    if (!m) throw new Refusal(404, "not an EST path: /.well-known/est[/<ca>]/cacerts, csrattrs, simpleenroll, simplereenroll", "NOT_FOUND");
    const label = m[1];
    const operation = m[2]!;
    checkLabel(label);
    const method = operation === "cacerts" || operation === "csrattrs" ? "GET" : "POST";
    if (req.method !== method) throw new Refusal(405, `${operation} is ${method}`, "USAGE", { Allow: method });
    if (operation === "cacerts") return send(res, 200, MEDIA.certsOnly, cacertsBody(label));
    if (operation === "csrattrs") return send(res, 200, MEDIA.csrattrs, encodeBase64Body(csrAttributes()));
    if (operation === "simpleenroll") {
      const station = await stationOf(req, arrival);
      throttle(`station ${station}`);
      const principal = await operatorAt(req, station, arrival);
      return enroll(req, res, label, { trace: { operator: principal.operator, station: principal.station, session: principal.session, origin: principal.origin } });
    }
    const renewing = await renewable(req);
    throttle(`device ${renewing.serial}`);
    if (renewing.ca !== (label ?? "device")) throw new Refusal(400, `a renewal comes from the CA that issued the certificate: use /.well-known/est/${renewing.ca}/simplereenroll`, "POLICY_DENIED");
    return enroll(req, res, label, { trace: { operator: `device:${renewing.commonName}`, station: "est", session: null, origin: `certificate:${renewing.serial}` }, renews: renewing });
  };

  const server: Server = createHttpsServer(
    {
      // node's TLS takes PEM; the key stays in this process's memory.
      key: typeof options.tls.key === "string" ? options.tls.key : (options.tls.key.export({ format: "pem", type: "pkcs8" }) as string),
      cert: [options.tls.certificatePem, ...(options.tls.chainPem ?? [])].join("\n"),
      // The home's CAs are the trust anchors for client certificates (stations and devices).
      ca: Object.values(home.state.cas).map((ca) => ca.certificate),
      requestCert: true,
      // Verified, but not refused at the handshake: a missing or foreign certificate gets a 401 saying so.
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
      handshakeTimeout: limits.handshakeTimeoutMs,
      maxHeaderSize: 8 * 1024,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    (req, res) => {
      handle(req, res).catch((e: unknown) => {
        if (res.headersSent) return void res.destroy();
        if (e instanceof Refusal) {
          if (e.status === 413) closeAfterAnswer(req, res);
          return send(res, e.status, "text/plain; charset=utf-8", `${e.message}\n`, { "Trustline-Error": e.code, ...e.headers });
        }
        if (isTrustlineError(e) && e.code === "STORE_UNAVAILABLE") return send(res, 503, "text/plain; charset=utf-8", `${e.message}\n`, { "Retry-After": "5", "Trustline-Error": e.code });
        log(`EST request failed: ${(e as Error).message}`);
        send(res, 500, "text/plain; charset=utf-8", "internal error\n");
      });
    },
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  // A handshake that fails or times out is the client's problem: no log line per bad client.
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(new TrustlineError("CONFIG_INVALID", `cannot listen on ${options.host ?? "127.0.0.1"}:${options.port ?? 8443}: ${e.code ?? e.message}`)));
    server.listen(options.port ?? 8443, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `https://${host}:${address.port}`,
    port: address.port,
    close: async () => {
      clearInterval(timer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await refreshing;
      // The CSR worker threads: requests in flight were answered before the server closed.
      await Promise.all([...enrollers.values()].map((e) => e.then((enroller) => enroller.close(), () => undefined)));
    },
  };
}
