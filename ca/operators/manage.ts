/**
 * Operators: enrol (a TOTP authenticator, an OpenID Connect subject, or a service account's
 * token), list, show, disable, enable (which also unlocks), reset MFA. Every change is an admin's
 * (`operator.manage`) and is audited; the one-time secret (otpauth URI, service token) is returned
 * once and kept only sealed.
 */
import type { Home } from "../home.js";
import { TrustlineError } from "../errors.js";
import { newToken, rolesOf, sealTokenHash } from "./authenticate.js";
import { createDataKey } from "./data-key.js";
import { type Authenticator, type AuthenticatorKind, enforcesSignIn, OPERATOR_ID, type OperatorRecord } from "./model.js";
import { ROLES, type Role } from "./roles.js";
import { seal } from "./sealed.js";
import { newTotpSecret, otpauthUri } from "./totp.js";

export type NewAuthenticator =
  | { readonly kind: "totp" }
  | { readonly kind: "oidc"; readonly issuer: string; readonly subject: string; readonly clientId: string; readonly requireMfa?: boolean; readonly acr?: readonly string[] }
  | { readonly kind: "service" };

export interface AddOperatorOptions {
  readonly id: string;
  readonly displayName?: string;
  readonly roles: readonly Role[];
  readonly authenticator: NewAuthenticator;
}

export interface OperatorSummary {
  readonly id: string;
  readonly displayName: string | null;
  readonly roles: readonly Role[];
  readonly authenticator: AuthenticatorKind | "none";
  readonly oidc?: { readonly issuer: string; readonly subject: string; readonly requireMfa: boolean; readonly acr?: readonly string[] };
  readonly status: "active" | "disabled" | "locked";
  readonly lockedUntil: string | null;
  readonly createdAt: string;
  readonly createdBy: string | null;
}

/** What enrolment hands out once: the authenticator app's URI, or the service account's token. */
export interface Enrolment {
  readonly operator: OperatorSummary;
  /** TOTP: show it (or its QR code) to the operator now; it is never shown again. */
  readonly otpauthUri?: string;
  /** Service account: write it to the token file now; only its hash is kept. */
  readonly token?: string;
}

export function summarizeOperator(op: OperatorRecord, now: Date): OperatorSummary {
  const a = op.authenticator;
  const locked = !!op.lockedUntil && Date.parse(op.lockedUntil) > now.getTime();
  return {
    id: op.id,
    displayName: op.displayName ?? null,
    roles: rolesOf(op),
    authenticator: a?.kind ?? "none",
    ...(a?.kind === "oidc" ? { oidc: { issuer: a.issuer, subject: a.subject, requireMfa: a.requireMfa, ...(a.acr ? { acr: a.acr } : {}) } } : {}),
    status: op.status === "disabled" ? "disabled" : locked ? "locked" : "active",
    lockedUntil: locked ? op.lockedUntil! : null,
    createdAt: op.createdAt,
    createdBy: op.createdBy ?? null,
  };
}

export function checkRoles(roles: readonly string[]): Role[] {
  const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || bad.length > 0) throw new TrustlineError("USAGE", `roles must be one or more of ${ROLES.join(", ")}${bad.length ? ` (not ${bad.join(", ")})` : ""}`);
  return [...new Set(roles as Role[])];
}

function checkOperatorId(id: string): void {
  if (!OPERATOR_ID.test(id)) throw new TrustlineError("USAGE", "an operator id is 1-64 letters, digits, and . _ @ - (starting with a letter or digit)");
}

function checkOidc(a: Extract<NewAuthenticator, { kind: "oidc" }>): void {
  let url: URL;
  try {
    url = new URL(a.issuer);
  } catch {
    throw new TrustlineError("USAGE", "--oidc-issuer must be the identity provider's issuer URL");
  }
  const loopback = url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) throw new TrustlineError("USAGE", "--oidc-issuer must be an https:// URL");
  if (a.subject.length === 0 || a.subject.length > 255) throw new TrustlineError("USAGE", "--oidc-subject must be the ID token's sub claim (1-255 characters)");
  if (a.clientId.length === 0 || a.clientId.length > 255) throw new TrustlineError("USAGE", "--oidc-client-id must name the client registered at the identity provider");
}

/** The data key, made (and wrapped by the home's key store) at the first enrolment. Caller holds the lock. */
async function dataKeyForEnrolment(home: Home): Promise<Buffer> {
  if (home.state.dataKey) return home.dataKey();
  const { key, record } = await createDataKey(home.keys, home.keyStore);
  await home.updateState((s) => ({ ...s, dataKey: record }));
  home.adoptDataKey(key);
  return key;
}

/** The sealed authenticator and its one-time secret. */
function makeAuthenticator(home: Home, dataKey: Buffer, id: string, spec: NewAuthenticator): { authenticator: Authenticator; otpauthUri?: string; token?: string } {
  if (spec.kind === "totp") {
    const secret = newTotpSecret();
    return { authenticator: { kind: "totp", seed: seal(dataKey, secret, `totp-seed:${id}`) }, otpauthUri: otpauthUri(secret, `Trustline ${home.state.organization}`, id) };
  }
  if (spec.kind === "service") {
    const { token, secret } = newToken("service", id);
    return { authenticator: { kind: "service", tokenHash: sealTokenHash(dataKey, "service-token", id, secret) }, token };
  }
  return { authenticator: { kind: "oidc", issuer: spec.issuer, subject: spec.subject, clientId: spec.clientId, requireMfa: spec.requireMfa ?? true, ...(spec.acr?.length ? { acr: [...spec.acr] } : {}) } };
}

/**
 * Enrol an operator (an admin's act; `init` enrols the first admin). An id recorded by a home made
 * before sign-in existed, with no authenticator, is enrolled in place.
 */
export async function addOperator(home: Home, options: AddOperatorOptions, authorized = false): Promise<Enrolment> {
  checkOperatorId(options.id);
  const roles = checkRoles(options.roles);
  if (options.displayName !== undefined && (options.displayName.length > 128 || /[\u0000-\u001f\u007f]/.test(options.displayName))) throw new TrustlineError("USAGE", "--name is at most 128 characters, with no control characters");
  if (options.authenticator.kind === "oidc") checkOidc(options.authenticator);
  const by = authorized ? home.principal! : await home.authorize("operator.manage");
  return home.transaction(async () => {
    const state = await home.refresh();
    const existing = state.operators[options.id];
    // The first enrolment turns sign-in on: it must be an admin, or nobody could manage operators after it.
    if (!enforcesSignIn(state.operators) && !roles.includes("admin")) throw new TrustlineError("USAGE", "this home has no enrolled admin yet: enrol one first (`trustline operator add <id> --role admin`)");
    if (existing?.authenticator) throw new TrustlineError("ALREADY_EXISTS", `operator ${options.id} already exists; use \`trustline operator reset-mfa\` to give it a new authenticator`);
    if (options.authenticator.kind === "oidc") {
      const { issuer, subject } = options.authenticator;
      const taken = Object.values(state.operators).find((o) => o.authenticator?.kind === "oidc" && o.authenticator.issuer === issuer && o.authenticator.subject === subject);
      if (taken) throw new TrustlineError("ALREADY_EXISTS", `that OpenID Connect subject already signs in as ${taken.id}`);
    }
    const dataKey = await dataKeyForEnrolment(home);
    const now = home.clock().toISOString();
    const made = makeAuthenticator(home, dataKey, options.id, options.authenticator);
    const record: OperatorRecord = {
      id: options.id,
      ...(options.displayName ? { displayName: options.displayName } : {}),
      roles,
      authenticator: made.authenticator,
      status: "active",
      createdAt: existing?.createdAt ?? now,
      createdBy: by.operator,
    };
    await home.updateState((s) => ({ ...s, operators: { ...s.operators, [record.id]: record } }));
    const oidc = options.authenticator.kind === "oidc" ? { issuer: options.authenticator.issuer, subject: options.authenticator.subject } : {};
    await home.record([{ action: "operator.add", outcome: "ok", ...home.who, details: { id: record.id, roles, authenticator: options.authenticator.kind, ...oidc } }]);
    return { operator: summarizeOperator(record, home.clock()), ...(made.otpauthUri ? { otpauthUri: made.otpauthUri } : {}), ...(made.token ? { token: made.token } : {}) };
  });
}

export function listOperators(home: Home): OperatorSummary[] {
  const now = home.clock();
  return Object.values(home.state.operators)
    .map((o) => summarizeOperator(o, now))
    .sort((a, b) => a.id.localeCompare(b.id));
}

export function showOperator(home: Home, id: string): OperatorSummary {
  const op = home.state.operators[id];
  if (!op) throw new TrustlineError("NOT_FOUND", `no operator ${id} in this home`);
  return summarizeOperator(op, home.clock());
}

export type OperatorChange = "disable" | "enable" | "reset-mfa";

/**
 * Disable or enable an operator (enable also clears a lock and its failures), or give it a new
 * authenticator secret (`reset-mfa`: a new TOTP seed, or a new service token), returned once.
 */
export async function changeOperator(home: Home, id: string, change: OperatorChange): Promise<Enrolment> {
  const by = await home.authorize("operator.manage");
  return home.transaction(async () => {
    const state = await home.refresh();
    const op = state.operators[id];
    if (!op) throw new TrustlineError("NOT_FOUND", `no operator ${id} in this home`);
    if (change === "disable" && id === by.operator) throw new TrustlineError("USAGE", "an admin cannot disable itself; ask another admin");
    if (change === "disable" && rolesOf(op).includes("admin") && !Object.values(state.operators).some((o) => o.id !== id && o.status !== "disabled" && o.authenticator && rolesOf(o).includes("admin"))) {
      throw new TrustlineError("USAGE", `${id} is the last active admin; enrol another admin first`);
    }
    let updated: OperatorRecord = op;
    let secret: { otpauthUri?: string; token?: string } = {};
    if (change === "disable") updated = { ...op, status: "disabled" };
    if (change === "enable") updated = { ...op, status: "active", failures: [], lockedUntil: null };
    if (change === "reset-mfa") {
      const kind = op.authenticator?.kind;
      if (kind !== "totp" && kind !== "service") throw new TrustlineError("USAGE", `${id} signs in through OpenID Connect: its identity provider holds its second factor`);
      const made = makeAuthenticator(home, await home.dataKey(), id, { kind });
      updated = { ...op, authenticator: made.authenticator, failures: [], lockedUntil: null };
      secret = made;
    }
    await home.updateState((s) => ({ ...s, operators: { ...s.operators, [id]: updated } }));
    await home.record([{ action: "operator.change", outcome: "ok", ...home.who, reason: change, details: { id } }]);
    return { operator: summarizeOperator(updated, home.clock()), ...(secret.otpauthUri ? { otpauthUri: secret.otpauthUri } : {}), ...(secret.token ? { token: secret.token } : {}) };
  });
}
