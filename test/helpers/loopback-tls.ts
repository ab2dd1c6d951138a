/**
 * What the loopback fake services (DPS, ARM) share: a TLS identity, a self-signed certificate for
 * localhost and 127.0.0.1 made by OpenSSL, and an HTTPS server that reads each request's JSON body
 * and records every exchange the way the tests inspect them.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { Agent, createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { tempDir } from "./pki.js";

let cached: { key: string; cert: string } | undefined;

export function loopbackTls(): { key: string; cert: string } {
  if (!cached) {
    const { dir, cleanup } = tempDir("trustline-tls-");
    try {
      execFileSync(
        "openssl",
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        { stdio: "pipe" },
      );
      cached = { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
    } finally {
      cleanup();
    }
  }
  return cached;
}

/** A request a loopback fake service answered, as tests inspect it. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: unknown;
  readonly status: number;
}

/** One request as a fake service's handler sees it. */
export interface JsonRequest {
  readonly req: IncomingMessage;
  readonly url: URL;
  readonly query: Readonly<Record<string, string>>;
  /** The parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  readonly body: unknown;
  /** Answer with `payload` as JSON (no body for undefined) and record the exchange with its status. */
  reply(status: number, payload: unknown, headers?: Record<string, string>): void;
}

export interface JsonLoopback {
  readonly port: number;
  /** Trusts the server's certificate. */
  readonly agent: Agent;
  /** The server's certificate (PEM). */
  readonly certificate: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1 (a free port) with the loopback identity, handing each request to `handle`. */
export async function startJsonLoopback(handle: (request: JsonRequest) => void): Promise<JsonLoopback> {
  const tls = loopbackTls();
  const requests: RecordedRequest[] = [];
  const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (raw += c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "https://localhost");
      const query = Object.fromEntries(url.searchParams);
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const reply = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        requests.push({ method: req.method ?? "", path: url.pathname, query, headers: { ...req.headers }, body, status });
        const text = payload === undefined ? "" : JSON.stringify(payload);
        res.writeHead(status, { ...(text ? { "content-type": "application/json; charset=utf-8" } : {}), ...headers });
        res.end(text);
      };
      handle({ req, url, query, body, reply });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const agent = new Agent({ ca: tls.cert, keepAlive: false });
  return {
    port: (server.address() as AddressInfo).port,
    agent,
    certificate: tls.cert,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
