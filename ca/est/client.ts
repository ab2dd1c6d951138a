/**
 * The toolkit's own EST client (`trustline enroll --est`, `trustline issue batch --est`): a line PC
 * holds its station certificate and key and an operator's shift session, never a CA key. Mutual
 * TLS with keep-alive; the server's answers are mapped back to the codes the local commands use.
 */
import { Agent, request } from "node:https";
import { createSecureContext } from "node:tls";
import { TrustlineError, type ErrorCode } from "../errors.js";
import { children, readRoot, slice } from "../x509/der.js";
import { decodeBase64Body, MEDIA } from "./wire.js";

export interface EstClientOptions {
  /** https://host:port, optionally with a CA label path: https://ca.plant:8443/.well-known/est/plant-lyon */
  readonly url: string;
  /** The station's (or device's) certificate and key, PEM. */
  readonly certificatePem: string;
  readonly keyPem: string;
  /** The certificates that identify the server (the home's root, PEM); default: the system's. */
  readonly trustPem?: string;
  /** The operator's shift session token (simpleenroll). */
  readonly sessionToken?: string;
  /** Connections kept open at once (default 8). */
  readonly connections?: number;
  /** Per request (default 60 s). */
  readonly timeoutMs?: number;
  /** Retries of a 429 or 503 answer, waiting as the server asks (default 5). */
  readonly retries?: number;
}

export interface EstEnrolled {
  readonly der: Uint8Array;
  readonly serial: string;
  /** The server answered with the certificate an earlier request of the same batch got. */
  readonly reused: boolean;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** The EST base URL (…/.well-known/est[/<label>]) of what the user gave. */
export function estBase(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TrustlineError("USAGE", `--est "${url.slice(0, 100)}" is not a URL: give https://<host>:<port>`);
  }
  if (u.protocol !== "https:") throw new TrustlineError("USAGE", "--est must be an https:// URL (EST runs over TLS)");
  if (u.username || u.password) throw new TrustlineError("USAGE", "--est must not carry credentials; the station authenticates with its certificate");
  const path = u.pathname.replace(/\/+$/, "");
  u.pathname = /\/\.well-known\/est(\/[a-z0-9-]+)?$/.test(path) ? path : `${path}/.well-known/est`;
  u.search = "";
  u.hash = "";
  return u;
}

/** The certificates of a certs-only CMS SignedData (DER), in order. */
export function certificatesOf(cms: Uint8Array): Uint8Array[] {
  try {
    const contentInfo = children(cms, readRoot(cms));
    const explicit = contentInfo[1];
    if (!explicit || explicit.tag !== 0xa0) throw new Error("no content");
    const signedData = children(cms, explicit)[0];
    if (!signedData) throw new Error("no SignedData");
    const certs = children(cms, signedData).find((t) => t.tag === 0xa0);
    return certs ? children(cms, certs).map((t) => slice(cms, t)) : [];
  } catch (e) {
    throw new TrustlineError("REMOTE_REJECTED", `the EST server's answer is not a certs-only CMS SignedData: ${(e as Error).message}`);
  }
}

const CODE_OF_STATUS: Readonly<Record<number, ErrorCode>> = { 400: "POLICY_DENIED", 401: "AUTH_FAILED", 403: "FORBIDDEN", 404: "NOT_FOUND", 413: "INPUT_INVALID", 415: "INPUT_INVALID" };
const KNOWN_CODES: ReadonlySet<string> = new Set<ErrorCode>(["CSR_INVALID", "POLICY_DENIED", "INPUT_INVALID", "NOT_FOUND", "AUTH_FAILED", "AUTH_REQUIRED", "FORBIDDEN", "USAGE", "STORE_UNAVAILABLE"]);

export class EstClient {
  readonly base: URL;
  readonly #agent: Agent;
  readonly #options: EstClientOptions;

  constructor(options: EstClientOptions) {
    this.base = estBase(options.url);
    this.#options = options;
    // Checked here, so that a wrong file is said as such, not as a failed connection.
    try {
      createSecureContext({ cert: options.certificatePem, key: options.keyPem, ...(options.trustPem !== undefined ? { ca: options.trustPem } : {}) });
    } catch (e) {
      throw new TrustlineError("INPUT_INVALID", `the client certificate, its key or the CA certificates cannot be used for TLS (${(e as Error).message}): give PEM files, the key unencrypted and matching the certificate`);
    }
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: options.connections ?? 8,
      cert: options.certificatePem,
      key: options.keyPem,
      ...(options.trustPem !== undefined ? { ca: options.trustPem } : {}),
      minVersion: "TLSv1.2",
    });
  }

  /** The CA chain the server publishes (issuing CA first). */
  async cacerts(): Promise<Uint8Array[]> {
    return certificatesOf(await this.#expect(await this.#send("GET", "cacerts")));
  }

  /** Open a shift session at this station (the client certificate's) with the operator's TOTP code. */
  async login(operator: string, code: string, ttl?: string): Promise<{ token: string; session: { id: string; operator: string; station: string; expiresAt: string } }> {
    const body = Buffer.from(JSON.stringify({ operator, totp: code, ...(ttl ? { ttl } : {}) }));
    const answer = await this.#once("POST", "/trustline/login", body, { "Content-Type": "application/json" }, true);
    if (answer.status !== 200) await this.#expect(answer);
    try {
      return JSON.parse(answer.body.toString("utf8")) as Awaited<ReturnType<EstClient["login"]>>;
    } catch {
      throw new TrustlineError("REMOTE_REJECTED", "the service's answer to the sign-in is not JSON");
    }
  }

  /** A device certificate for `csrDer`, under the operator's shift session. */
  async enroll(csrDer: Uint8Array, options: { batch?: string } = {}): Promise<EstEnrolled> {
    if (!this.#options.sessionToken) throw new TrustlineError("AUTH_REQUIRED", "enrolling through EST needs an operator's shift session: `trustline login` at this station, or TRUSTLINE_SESSION");
    return this.#certificate(await this.#send("POST", "simpleenroll", csrDer, { Authorization: `Bearer ${this.#options.sessionToken}`, ...(options.batch ? { "Trustline-Batch": options.batch } : {}) }));
  }

  /** A renewal of the client certificate itself (the device's), for a CSR with the same subject. */
  async reenroll(csrDer: Uint8Array): Promise<EstEnrolled> {
    return this.#certificate(await this.#send("POST", "simplereenroll", csrDer));
  }

  close(): void {
    this.#agent.destroy();
  }

  async #certificate(answer: Answer): Promise<EstEnrolled> {
    const der = certificatesOf(await this.#expect(answer))[0];
    if (!der) throw new TrustlineError("REMOTE_REJECTED", "the EST server answered with no certificate");
    return { der, serial: String(answer.headers["trustline-serial"] ?? ""), reused: answer.headers["trustline-reused"] === "1" };
  }

  /** The decoded body of a 200 answer, or the server's refusal as a TrustlineError. */
  async #expect(answer: Answer): Promise<Uint8Array> {
    if (answer.status === 200) {
      const der = decodeBase64Body(answer.body);
      if (!der) throw new TrustlineError("REMOTE_REJECTED", "the EST server's answer is not base64");
      return der;
    }
    const reason = answer.body.toString("utf8").trim().slice(0, 2000) || `HTTP ${answer.status}`;
    const told = String(answer.headers["trustline-error"] ?? "");
    const code: ErrorCode = KNOWN_CODES.has(told) ? (told as ErrorCode) : (CODE_OF_STATUS[answer.status] ?? "REMOTE_UNAVAILABLE");
    throw new TrustlineError(code, `the EST server refused (HTTP ${answer.status}): ${reason}`, { details: { status: answer.status } });
  }

  async #send(method: "GET" | "POST", operation: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<Answer> {
    const retries = this.#options.retries ?? 5;
    for (let attempt = 0; ; attempt++) {
      const answer = await this.#once(method, operation, body, headers);
      if ((answer.status !== 429 && answer.status !== 503) || attempt >= retries) return answer;
      const wait = Math.min(30, Math.max(1, Number(answer.headers["retry-after"]) || 1));
      await new Promise((r) => setTimeout(r, wait * 1000 * (0.5 + Math.random() / 2)));
    }
  }

  /** One request; `raw`: `operation` is a path from the server's root and `body` goes as it is. */
  #once(method: "GET" | "POST", operation: string, body?: Uint8Array, headers: Record<string, string> = {}, raw = false): Promise<Answer> {
    const url = raw ? new URL(operation, this.base) : new URL(`${this.base.pathname}/${operation}`, this.base);
    const payload = body ? (raw ? Buffer.from(body) : Buffer.from(Buffer.from(body).toString("base64"))) : undefined;
    return new Promise<Answer>((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent: this.#agent,
          timeout: this.#options.timeoutMs ?? 60_000,
          headers: { ...(payload ? { "Content-Type": MEDIA.pkcs10, "Content-Length": String(payload.length) } : {}), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > 1024 * 1024) return void res.destroy(new Error("the answer is larger than 1 MiB"));
            chunks.push(c);
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${(this.#options.timeoutMs ?? 60_000) / 1000} s`)));
      req.on("error", (e: NodeJS.ErrnoException) =>
        reject(new TrustlineError("REMOTE_UNAVAILABLE", `cannot reach the EST server at ${this.base.origin}: ${e.code ?? ""} ${e.message}`.replace(/\s+/g, " "), { cause: e })),
      );
      req.end(payload);
    });
  }
}
