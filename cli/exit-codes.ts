/** Documented exit statuses. Scripts on production lines and in CI branch on these. */
import type { ErrorCode } from "../ca/index.js";

export const EXIT = {
  OK: 0,
  /** A verification said no: the audit log is tampered, a signature or certificate does not hold, no valid certification path. */
  VERIFICATION_FAILED: 1,
  /** The command was called wrongly: unknown option, missing argument. */
  USAGE: 2,
  /** The input was rejected: bad CSR, policy violation, unreadable file, unknown serial. */
  INPUT_REJECTED: 3,
  /** The environment or state is in the way: wrong passphrase, locked or damaged home, missing home. */
  ENVIRONMENT: 4,
  /** Not allowed: the operator's sign-in was refused (wrong, reused or stale code; expired session; locked) or their roles do not allow it. */
  NOT_ALLOWED: 5,
} as const;

export const EXIT_FOR_CODE: Readonly<Record<ErrorCode, number>> = {
  SIGNATURE_INVALID: EXIT.VERIFICATION_FAILED,
  PATH_INVALID: EXIT.VERIFICATION_FAILED,
  REVOKED: EXIT.VERIFICATION_FAILED,
  AUDIT_TAMPERED: EXIT.VERIFICATION_FAILED,
  USAGE: EXIT.USAGE,
  CSR_INVALID: EXIT.INPUT_REJECTED,
  POLICY_DENIED: EXIT.INPUT_REJECTED,
  INPUT_INVALID: EXIT.INPUT_REJECTED,
  NOT_FOUND: EXIT.INPUT_REJECTED,
  REMOTE_REJECTED: EXIT.INPUT_REJECTED,
  ALREADY_EXISTS: EXIT.ENVIRONMENT,
  KEY_UNAVAILABLE: EXIT.ENVIRONMENT,
  PASSPHRASE_REQUIRED: EXIT.ENVIRONMENT,
  STORE_CONFLICT: EXIT.ENVIRONMENT,
  STORE_CORRUPT: EXIT.ENVIRONMENT,
  STORE_UNAVAILABLE: EXIT.ENVIRONMENT,
  STORE_OUTDATED: EXIT.ENVIRONMENT,
  DELIVERY_FAILED: EXIT.ENVIRONMENT,
  CONFIG_INVALID: EXIT.ENVIRONMENT,
  AUTH_REQUIRED: EXIT.ENVIRONMENT,
  REMOTE_UNAVAILABLE: EXIT.ENVIRONMENT,
  AUTH_FAILED: EXIT.NOT_ALLOWED,
  FORBIDDEN: EXIT.NOT_ALLOWED,
};
