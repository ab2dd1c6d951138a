/**
 * What the loopback fake services (DPS, ARM) share: a TLS identity, a self-signed certificate for
 * localhost and 127.0.0.1 made by OpenSSL, and the shape of the requests they record.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
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
