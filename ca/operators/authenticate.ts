/**
 * Who is acting: a credential (a TOTP code, a shift session's token, a service account's token)
 * checked against the home's operators, giving the principal every record and audit entry names.
 * Every refusal is AUTH_FAILED, an audit entry and a security event; five failed codes in 15
 * minutes lock the operator. Issuing asks this wing (Home.authorize); this wing never asks issuing.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Home } from "../home.js";
import { TrustlineError } from "../errors.js";
import { enforcesSignIn, type OperatorRecord, type Principal, type SessionRecord } from "./model.js";
import { ROLES, type Role } from "./roles.js";
import { seal, unseal } from "./sealed.js";
import { AUTHENTICATOR_APP, hotp, timeStep, verifyTotp } from "./totp.js";

/** How a command proves who is acting. */
export type Credential =
  | { readonly kind: "totp"; readonly operator: string; readonly code: string }
  | { readonly kind: "session"; readonly token: string }
  | { readonly kind: "service-token"; readonly token: string };

/** Five failed sign-ins within 15 minutes lock the operator for 15 minutes (or until an admin unlocks). */
export const LOCK_AFTER_FAILURES = 5;
export const FAILURE_WINDOW_MS = 15 * 60_000;

const SESSION_PREFIX = "tl-session";
const SERVICE_PREFIX = "tl-service";

/** A new token: prefix, the id that finds its record, 256 random bits. Only SHA-256(secret) is kept. */
export function newToken(kind: "session" | "service", id: string): { token: string; secret: Buffer } {
  const secret = randomBytes(32);
  return { token: `${kind === "session" ? SESSION_PREFIX : SERVICE_PREFIX}.${id}.${secret.toString("base64url")}`, secret };
}

/** The sealed SHA-256 of a token's secret, bound to its purpose and id. */
export function sealTokenHash(dataKey: Buffer, purpose: "session-token" | "service-token", id: string, secret: Uint8Array): string {
  return seal(dataKey, createHash("sha256").update(secret).digest(), `${purpose}:${id}`);
}

function parseToken(token: string, prefix: string): { id: string; secret: Buffer } | undefined {
  const t = token.trim();
  if (t.length > 256 || !t.startsWith(`${prefix}.`)) return undefined;
  const last = t.lastIndexOf(".");
  const id = t.slice(prefix.length + 1, last);
  const secret = Buffer.from(t.slice(last + 1), "base64url");
  return id.length > 0 && secret.length === 32 ? { id, secret } : undefined;
}

function tokenMatches(dataKey: Buffer, sealedHash: string, purpose: "session-token" | "service-token", id: string, secret: Buffer): boolean {
  const expected = unseal(dataKey, sealedHash, `${purpose}:${id}`);
  return timingSafeEqual(expected, createHash("sha256").update(secret).digest());
}

/** The roles of an operator record (homes before issue 16 recorded one, unenforced). */
export function rolesOf(op: OperatorRecord): Role[] {
  return (op.roles ?? []).filter((r): r is Role => (ROLES as readonly string[]).includes(r));
}

/** Why a refusal happened, as `details.reason` says it. */
export type AuthFailure =
  | "no-credential"
  | "unknown-operator"
  | "no-totp"
  | "wrong-code"
  | "reused-code"
  | "stale-code"
  | "locked"
  | "disabled"
  | "unknown-session"
  | "expired-session"
  | "revoked-session"
  | "wrong-token"
  | "operator-mismatch"
  | "wrong-station"
  | "unknown-subject"
  | "mfa-required";

const EXPLAIN: Readonly<Record<AuthFailure, string>> = {
  "no-credential": "this home requires a signed-in operator for every write: give --totp <code> (or TRUSTLINE_TOTP) with --operator, open a shift session with `trustline login`, or use a service account's token file (TRUSTLINE_TOKEN_FILE)",
  "unknown-operator": "no operator with that id can sign in with a code",
  "no-totp": "this operator does not sign in with an authenticator app",
  "wrong-code": "the code is wrong",
  "reused-code": "the code was already used: wait for the next one (each code works once)",
  "stale-code": "the code is for another time: check the authenticator's clock and use the current code",
  locked: "the operator is locked after repeated failed sign-ins: an admin can unlock it (`trustline operator enable`), or wait 15 minutes",
  disabled: "the operator is disabled: an admin can enable it",
  "unknown-session": "the session is not known to this home: sign in again with `trustline login`",
  "expired-session": "the session has expired: sign in again with `trustline login`",
  "revoked-session": "the session was closed or revoked: sign in again with `trustline login`",
  "wrong-token": "the token does not match",
  "operator-mismatch": "the credential belongs to another operator than --operator names",
  "wrong-station": "the session was opened at another station: sign in at this station with `trustline login`",
  "unknown-subject": "no operator is enrolled for this OpenID Connect issuer and subject",
  "mfa-required": "this operator must sign in with multi-factor authentication, and the identity provider did not report it",
};

/**
 * Refuse: record an `auth.fail` entry (and `operator.locked` when this failure locks), raise the
 * security events, and throw AUTH_FAILED. `lockable` counts it against the operator's window.
 */
export async function refuse(home: Home, reason: AuthFailure, claimed: { operator: string; session?: string | null; origin: string }, lockable = false): Promise<never> {
  const now = home.clock();
  let locked = false;
  await home.transaction(async () => {
    const state = await home.refresh();
    const op = state.operators[claimed.operator];
    if (lockable && op?.authenticator) {
      const recent = (op.failures ?? []).filter((t) => now.getTime() - Date.parse(t) < FAILURE_WINDOW_MS);
      recent.push(now.toISOString());
      locked = recent.length >= LOCK_AFTER_FAILURES && reason !== "locked";
      await home.updateState((s) => ({
        ...s,
        operators: { ...s.operators, [op.id]: { ...op, failures: recent, ...(locked ? { lockedUntil: new Date(now.getTime() + FAILURE_WINDOW_MS).toISOString() } : {}) } },
      }));
    }
    const who = { operator: claimed.operator, station: home.actor.station, session: claimed.session ?? null, origin: claimed.origin };
    await home.record([
      { action: "auth.fail", outcome: "rejected", ...who, reason },
      ...(locked ? [{ action: "operator.locked" as const, outcome: "ok" as const, ...who, reason: "failed-sign-ins", details: { failures: LOCK_AFTER_FAILURES, windowMinutes: 15 } }] : []),
    ]);
  });
  home.securityEvent("auth.fail", { operator: claimed.operator, reason, origin: claimed.origin });
  if (locked) home.securityEvent("operator.locked", { operator: claimed.operator, failures: LOCK_AFTER_FAILURES });
  throw new TrustlineError("AUTH_FAILED", `sign-in refused for ${claimed.operator}: ${EXPLAIN[reason]}`, { details: { reason, operator: claimed.operator, ...(locked ? { locked: true } : {}) } });
}

/** A TOTP code's failure, told apart so the person knows what to do (the count is the same). */
function classifyCode(seed: Uint8Array, code: string, now: Date, lastUsedStep: number | undefined): AuthFailure {
  const p = AUTHENTICATOR_APP;
  const step = timeStep(now, p.periodSeconds);
  const matches = (d: bigint) => hotp(seed, step + d, p.hash, p.digits) === code;
  for (let d = -1n; d <= 1n; d++) if (matches(d) && lastUsedStep !== undefined && step + d <= BigInt(lastUsedStep)) return "reused-code";
  for (let d = -20n; d <= 20n; d++) if (matches(d)) return "stale-code";
  return "wrong-code";
}

/** Why an enrolled operator cannot sign in now (disabled, locked), or undefined. */
export function checkUsable(op: OperatorRecord, now: Date): AuthFailure | undefined {
  if (op.status === "disabled") return "disabled";
  if (op.lockedUntil && Date.parse(op.lockedUntil) > now.getTime()) return "locked";
  return undefined;
}

/** Sign in with a TOTP code: the step is spent (replay refused) and the failure window cleared. */
export async function signInWithTotp(home: Home, operator: string, code: string): Promise<OperatorRecord> {
  const now = home.clock();
  const claimed = { operator, origin: "totp" };
  const dataKey = await home.dataKey();
  let failure: AuthFailure | undefined;
  let lockable = false;
  const signedIn = await home.transaction(async () => {
    const op = (await home.refresh()).operators[operator];
    if (!op?.authenticator) return void (failure = "unknown-operator");
    if (op.authenticator.kind !== "totp") return void (failure = "no-totp");
    failure = checkUsable(op, now);
    if (failure) return undefined;
    const seed = unseal(dataKey, op.authenticator.seed, `totp-seed:${op.id}`);
    const last = op.authenticator.lastUsedStep;
    const step = verifyTotp(seed, code.trim(), now, last === undefined ? {} : { lastUsedStep: BigInt(last) });
    if (step === undefined) {
      failure = classifyCode(seed, code.trim(), now, last);
      lockable = true;
      return undefined;
    }
    const updated: OperatorRecord = { ...op, authenticator: { ...op.authenticator, lastUsedStep: Number(step) }, failures: [], lockedUntil: null };
    await home.updateState((s) => ({ ...s, operators: { ...s.operators, [op.id]: updated } }));
    return updated;
  });
  if (!signedIn) return refuse(home, failure ?? "wrong-code", claimed, lockable);
  return signedIn;
}

/** The principal of a command: from its credential, or (a home with no enrolled operator) the claimed actor. */
export async function authenticate(home: Home, credential: Credential | undefined): Promise<Principal> {
  const state = home.state;
  const station = home.actor.station;
  if (!enforcesSignIn(state.operators)) {
    return { operator: home.actor.operator, station, session: null, origin: "unauthenticated", roles: ROLES };
  }
  if (!credential) return refuse(home, "no-credential", { operator: home.actor.operator, origin: "none" });
  if (credential.kind === "totp") {
    const op = await signInWithTotp(home, credential.operator, credential.code);
    return { operator: op.id, station, session: null, origin: "totp", roles: rolesOf(op) };
  }
  const dataKey = await home.dataKey();
  const now = home.clock();
  if (credential.kind === "session") {
    const parsed = parseToken(credential.token, SESSION_PREFIX);
    const session: SessionRecord | undefined = parsed ? state.sessions?.[parsed.id] : undefined;
    // A token for no known session names nobody: the failure is not the server's OS user's.
    const claimed = { operator: session?.operator ?? home.claimedOperator ?? "unknown", session: parsed?.id ?? null, origin: session?.origin ?? "session" };
    if (!parsed || !session) return refuse(home, "unknown-session", claimed);
    if (!tokenMatches(dataKey, session.tokenHash, "session-token", session.id, parsed.secret)) return refuse(home, "wrong-token", claimed);
    if (session.revokedAt) return refuse(home, "revoked-session", claimed);
    if (Date.parse(session.expiresAt) <= now.getTime()) return refuse(home, "expired-session", claimed);
    const op = state.operators[session.operator];
    const unusable = op ? checkUsable(op, now) : "unknown-operator";
    if (unusable || !op) return refuse(home, unusable ?? "unknown-operator", claimed);
    if (home.claimedOperator && home.claimedOperator !== op.id) return refuse(home, "operator-mismatch", claimed);
    if (home.boundStation !== undefined && home.boundStation !== session.station) return refuse(home, "wrong-station", claimed);
    return { operator: op.id, station: home.claimedStation ?? session.station, session: session.id, origin: session.origin, roles: rolesOf(op) };
  }
  const parsed = parseToken(credential.token, SERVICE_PREFIX);
  const op = parsed ? state.operators[parsed.id] : undefined;
  const claimed = { operator: parsed?.id ?? home.actor.operator, origin: "service-token" };
  if (!parsed || !op || op.authenticator?.kind !== "service") return refuse(home, "unknown-operator", claimed);
  if (!tokenMatches(dataKey, op.authenticator.tokenHash, "service-token", op.id, parsed.secret)) return refuse(home, "wrong-token", claimed);
  const unusable = checkUsable(op, now);
  if (unusable) return refuse(home, unusable, claimed);
  if (home.claimedOperator && home.claimedOperator !== op.id) return refuse(home, "operator-mismatch", claimed);
  return { operator: op.id, station, session: null, origin: "service-token", roles: rolesOf(op) };
}
