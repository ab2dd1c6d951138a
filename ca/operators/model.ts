/**
 * What the home keeps about operators and their shift sessions, and who is acting in a command
 * (the principal). Secrets are never here in the clear: TOTP seeds and token hashes are sealed
 * under the home's data key (sealed.ts, data-key.ts).
 */
import type { Role } from "./roles.js";

/** How an operator proves who they are. */
export type Authenticator =
  /** An authenticator app (RFC 6238); `lastUsedStep` refuses a code's time step a second time. */
  | { readonly kind: "totp"; readonly seed: string; readonly lastUsedStep?: number }
  /** The customer's identity provider: the ID token's issuer and subject name this operator. */
  | { readonly kind: "oidc"; readonly issuer: string; readonly subject: string; readonly clientId: string; readonly requireMfa: boolean; readonly acr?: readonly string[] }
  /** A service account (CI): a long random token, only its SHA-256 kept (sealed). */
  | { readonly kind: "service"; readonly tokenHash: string };

export type AuthenticatorKind = Authenticator["kind"];

export interface OperatorRecord {
  readonly id: string;
  readonly displayName?: string;
  /** Absent in homes made before operators were enrolled: see `role`. */
  readonly roles?: readonly Role[];
  /** The one role recorded by homes made before issue 16 (not enforced). */
  readonly role?: string;
  readonly authenticator?: Authenticator;
  readonly status?: "active" | "disabled";
  /** Times of failed sign-ins in the current window (five in 15 minutes lock). */
  readonly failures?: readonly string[];
  readonly lockedUntil?: string | null;
  readonly createdAt: string;
  readonly createdBy?: string;
}

export interface SessionRecord {
  readonly id: string;
  readonly operator: string;
  readonly station: string;
  /** How the operator signed in to open it (`totp`, `oidc:<issuer>#<subject> amr=…`). */
  readonly origin: string;
  /** SHA-256 of the session token's secret, sealed. */
  readonly tokenHash: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revokedAt?: string;
  readonly revokedBy?: string;
}

/** Who is acting, where, and how they proved it: what every record and audit entry names. */
export interface Principal {
  readonly operator: string;
  readonly station: string;
  /** The shift session the command runs under; null when signed in for this command alone. */
  readonly session: string | null;
  /** `totp`, `oidc:<issuer>#<subject> amr=pwd,mfa`, `service-token`, `init`, or `unauthenticated` (a home with no enrolled admin). */
  readonly origin: string;
  readonly roles: readonly Role[];
}

/** The trace fields a principal adds to records and audit entries. */
export interface TraceFields {
  readonly operator: string;
  readonly station: string;
  readonly session?: string | null;
  readonly origin?: string;
}

export function traceOf(p: Principal): TraceFields {
  return { operator: p.operator, station: p.station, session: p.session, origin: p.origin };
}

/** A home enforces sign-in once any operator has an authenticator (its first admin enrolled). */
export function enforcesSignIn(operators: Readonly<Record<string, OperatorRecord>>): boolean {
  return Object.values(operators).some((o) => o.authenticator !== undefined);
}

/** Operator ids: what a person types and a record shows (no spaces, no control characters). */
export const OPERATOR_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
