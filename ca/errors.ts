/**
 * One error type for the whole library. `code` is a closed union so callers (and the CLI's exit
 * codes) branch on it, never on message text. Messages say what went wrong and what to do.
 */
export type ErrorCode =
  | "CSR_INVALID" //          the request is malformed or its self-signature does not verify
  | "POLICY_DENIED" //        the profile forbids what was asked (details.violations lists every reason)
  | "INPUT_INVALID" //        a file or argument could not be read as what it should be
  | "SIGNATURE_INVALID" //    a signature did not verify
  | "PATH_INVALID" //         no certification path to a trust anchor is valid (details: the failing check)
  | "REVOKED" //              the certificate is revoked
  | "NOT_FOUND" //            no such CA, certificate, serial or file
  | "ALREADY_EXISTS" //       refusing to overwrite (a home, a CA, an output file)
  | "KEY_UNAVAILABLE" //      a private key could not be opened (wrong passphrase, missing file, backend down)
  | "PASSPHRASE_REQUIRED" //  no passphrase source was given and there is no terminal to ask
  | "STORE_CONFLICT" //       a concurrent writer or a duplicate serial
  | "STORE_CORRUPT" //        the home's files are damaged (details: the file and, where known, the line)
  | "STORE_UNAVAILABLE" //    the disk refused a read or write (full, I/O error, read-only); details: the path; a database out of reach
  | "STORE_OUTDATED" //       the database's schema is older (run `trustline db migrate`) or newer (upgrade trustline) than this code
  | "DELIVERY_FAILED" //      the certificate is issued and durably recorded, but writing it out failed (details: serial)
  | "AUDIT_TAMPERED" //       the audit log's chain or signed head does not verify
  | "CONFIG_INVALID" //       the home's configuration is missing or unusable
  | "AUTH_FAILED" //          sign-in refused: a wrong, stale or reused code, an expired or revoked session, a locked or disabled operator
  | "FORBIDDEN" //            the operator's roles do not allow this write (details: action, roles that would)
  | "AUTH_REQUIRED" //        the operation needs an authorised operator, or a remote service refused the credentials
  | "REMOTE_REJECTED" //      a remote service (Azure DPS, ARM) refused the request or part of it (details: what and why)
  | "REMOTE_UNAVAILABLE" //   a remote service could not be reached or failed (network, TLS, 5xx, throttling)
  | "USAGE"; //               the command was called wrongly

export class TrustlineError extends Error {
  override readonly name = "TrustlineError";
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isTrustlineError(e: unknown, code?: ErrorCode): e is TrustlineError {
  return e instanceof TrustlineError && (code === undefined || e.code === code);
}
