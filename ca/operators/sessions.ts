/**
 * Shift sessions: an operator signs in once (a TOTP code, or the identity provider through OpenID
 * Connect) and gets a random 256-bit token for the station's later commands, so an unattended line
 * issues for a shift while every certificate still names the person who opened it. The home keeps
 * only each token's SHA-256, sealed; logout closes a session, an admin may revoke any.
 */
import { randomBytes } from "node:crypto";
import { ASSUME_PRINCIPAL, type Home } from "../home.js";
import { TrustlineError } from "../errors.js";
import { checkUsable, newToken, refuse, rolesOf, sealTokenHash, signInWithTotp } from "./authenticate.js";
import type { OperatorRecord, Principal, SessionRecord } from "./model.js";

/** A shift: 8 hours unless asked; never more than 24. */
export const DEFAULT_SESSION_TTL_MS = 8 * 3_600_000;
export const MAX_SESSION_TTL_MS = 24 * 3_600_000;

/** What an identity provider's validated ID token says (ca/operators/oidc.ts). */
export interface SignedInIdentity {
  readonly issuer: string;
  readonly subject: string;
  readonly amr: readonly string[];
  readonly acr?: string;
}

export type SignIn = { readonly kind: "totp"; readonly operator: string; readonly code: string } | { readonly kind: "oidc"; readonly identity: SignedInIdentity };

export interface SessionSummary {
  readonly id: string;
  readonly operator: string;
  readonly station: string;
  readonly origin: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly status: "active" | "expired" | "revoked";
  readonly revokedAt: string | null;
}

export interface OpenedSession {
  readonly session: SessionSummary;
  /** Give it to later commands (a 0600 file, or TRUSTLINE_SESSION); the home keeps only its hash. */
  readonly token: string;
}

export function summarizeSession(s: SessionRecord, now: Date): SessionSummary {
  const status = s.revokedAt ? "revoked" : Date.parse(s.expiresAt) <= now.getTime() ? "expired" : "active";
  return { id: s.id, operator: s.operator, station: s.station, origin: s.origin, createdAt: s.createdAt, expiresAt: s.expiresAt, status, revokedAt: s.revokedAt ?? null };
}

/** `8h`, `30m`, `1d` (at most 24 h). */
export function parseTtl(text: string): number {
  const m = /^([1-9][0-9]{0,4})(m|h|d)$/.exec(text.trim());
  const ms = m ? Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m" | "h" | "d"] : NaN;
  if (!(ms > 0) || ms > MAX_SESSION_TTL_MS) throw new TrustlineError("USAGE", "--ttl is a duration such as 8h, 90m or 1d, at most 24h");
  return ms;
}

export function oidcOrigin(identity: SignedInIdentity): string {
  return `oidc:${identity.issuer}#${identity.subject} amr=${identity.amr.join(",") || "none"}${identity.acr ? ` acr=${identity.acr}` : ""}`;
}

/** The operator an ID token names, or AUTH_FAILED (unknown subject; MFA required and not reported). */
async function operatorForIdentity(home: Home, identity: SignedInIdentity): Promise<OperatorRecord> {
  const origin = oidcOrigin(identity);
  const op = Object.values((await home.refresh()).operators).find((o) => o.authenticator?.kind === "oidc" && o.authenticator.issuer === identity.issuer && o.authenticator.subject === identity.subject);
  if (!op || op.authenticator?.kind !== "oidc") return refuse(home, "unknown-subject", { operator: home.claimedOperator ?? `${identity.issuer}#${identity.subject}`, origin });
  const a = op.authenticator;
  const unusable = checkUsable(op, home.clock());
  if (unusable) return refuse(home, unusable, { operator: op.id, origin });
  const mfa = identity.amr.includes("mfa") || (identity.acr !== undefined && (a.acr ?? []).includes(identity.acr));
  if (a.requireMfa && !mfa) return refuse(home, "mfa-required", { operator: op.id, origin });
  if (home.claimedOperator && home.claimedOperator !== op.id) return refuse(home, "operator-mismatch", { operator: op.id, origin });
  return op;
}

/** Sign in and open a shift session at this station (`trustline login`). */
export async function openSession(home: Home, signIn: SignIn, options: { ttlMs?: number } = {}): Promise<OpenedSession> {
  const ttl = options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
  if (!(ttl > 0 && ttl <= MAX_SESSION_TTL_MS)) throw new TrustlineError("USAGE", "a session lasts at most 24 hours");
  const op = signIn.kind === "totp" ? await signInWithTotp(home, signIn.operator, signIn.code) : await operatorForIdentity(home, signIn.identity);
  const origin = signIn.kind === "totp" ? "totp" : oidcOrigin(signIn.identity);
  const dataKey = await home.dataKey();
  const id = randomBytes(8).toString("hex");
  const { token, secret } = newToken("session", id);
  const now = home.clock();
  const record: SessionRecord = {
    id,
    operator: op.id,
    station: home.actor.station,
    origin,
    tokenHash: sealTokenHash(dataKey, "session-token", id, secret),
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + ttl).toISOString(),
  };
  const principal: Principal = { operator: op.id, station: record.station, session: id, origin, roles: rolesOf(op) };
  home[ASSUME_PRINCIPAL](principal);
  await home.transaction(async () => {
    await home.updateState((s) => ({ ...s, sessions: { ...dropLongExpired(s.sessions ?? {}, now), [id]: record } }));
    await home.record([{ action: "session.open", outcome: "ok", ...home.who, details: { expiresAt: record.expiresAt } }]);
  });
  return { session: summarizeSession(record, now), token };
}

/** Sessions expired over a week ago are dropped when another opens (the audit log keeps their story). */
function dropLongExpired(sessions: Readonly<Record<string, SessionRecord>>, now: Date): Record<string, SessionRecord> {
  return Object.fromEntries(Object.entries(sessions).filter(([, s]) => now.getTime() - Date.parse(s.expiresAt) < 7 * 86_400_000));
}

/** Close the session a token opened (`trustline logout`). Needs no role: it is the holder's own. */
export async function closeSession(home: Home, token: string): Promise<SessionSummary> {
  home.useCredential({ kind: "session", token });
  const principal = await home.signIn();
  if (!principal.session) throw new TrustlineError("USAGE", "logout closes a shift session: this credential is not one");
  return endSession(home, principal.session, "logout");
}

/** Revoke any session (an admin's act): its token is refused from now on. */
export async function revokeSession(home: Home, id: string): Promise<SessionSummary> {
  await home.authorize("operator.manage");
  if (!home.state.sessions?.[id]) throw new TrustlineError("NOT_FOUND", `no session ${id} in this home`);
  return endSession(home, id, "revoked");
}

async function endSession(home: Home, id: string, reason: "logout" | "revoked"): Promise<SessionSummary> {
  return home.transaction(async () => {
    const s = (await home.refresh()).sessions?.[id];
    if (!s) throw new TrustlineError("NOT_FOUND", `no session ${id} in this home`);
    const now = home.clock();
    const ended: SessionRecord = s.revokedAt ? s : { ...s, revokedAt: now.toISOString(), revokedBy: home.who.operator };
    await home.updateState((st) => ({ ...st, sessions: { ...st.sessions, [id]: ended } }));
    await home.record([{ action: "session.close", outcome: "ok", ...home.who, reason, details: { id, operator: s.operator, station: s.station } }]);
    return summarizeSession(ended, now);
  });
}

export function listSessions(home: Home, options: { all?: boolean } = {}): SessionSummary[] {
  const now = home.clock();
  return Object.values(home.state.sessions ?? {})
    .map((s) => summarizeSession(s, now))
    .filter((s) => options.all || s.status === "active")
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}
