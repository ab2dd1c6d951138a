/**
 * The shape of state.json, checked on every read. The file is in the home, where anyone who can
 * write the home can put anything: a field of the wrong type must be STORE_CORRUPT naming the
 * field, never a TypeError deep inside a command (an internal error, exit 70).
 */
import { TrustlineError } from "../errors.js";
import type { HomeState } from "./state.js";
import { ROLES } from "../operators/roles.js";

const KEY_ALGORITHMS = new Set(["p256", "p384", "rsa2048", "rsa3072", "rsa4096"]);
const CA_PROFILES = new Set(["root-ca", "device-ca", "firmware-ca"]);

type Check = (value: unknown, where: string) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const text: Check = (v, where) => (typeof v === "string" ? undefined : `${where} is not text`);
const optionalText: Check = (v, where) => (v === undefined ? undefined : text(v, where));
const count: Check = (v, where) => (Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : `${where} is not a whole number`);
const oneOf = (set: ReadonlySet<string>): Check => (v, where) => (typeof v === "string" && set.has(v) ? undefined : `${where} is not one of ${[...set].join(", ")}`);
const textOrNull: Check = (v, where) => (v === null ? undefined : text(v, where));

function fields(shape: Readonly<Record<string, Check>>): Check {
  return (v, where) => {
    if (!isObject(v)) return `${where} is not an object`;
    for (const [name, check] of Object.entries(shape)) {
      const problem = check(v[name], `${where}.${name}`);
      if (problem) return problem;
    }
    return undefined;
  };
}

function recordOf(check: Check, optional = false): Check {
  return (v, where) => {
    if (v === undefined && optional) return undefined;
    if (!isObject(v)) return `${where} is not an object`;
    for (const [key, item] of Object.entries(v)) {
      const problem = check(item, `${where}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  };
}

const CA_RECORD = fields({
  name: text,
  profile: oneOf(CA_PROFILES),
  parent: textOrNull,
  keyUri: text,
  keyAlgorithm: oneOf(KEY_ALGORITHMS),
  certificate: text,
  serial: text,
  subject: text,
  notBefore: text,
  notAfter: text,
});

const optional = (check: Check): Check => (v, where) => (v === undefined ? undefined : check(v, where));
const listOf = (check: Check): Check => (v, where) => {
  if (!Array.isArray(v)) return `${where} is not a list`;
  for (const [i, item] of v.entries()) {
    const problem = check(item, `${where}[${i}]`);
    if (problem) return problem;
  }
  return undefined;
};
const flag: Check = (v, where) => (typeof v === "boolean" ? undefined : `${where} is not true or false`);
const ROLE_NAMES: ReadonlySet<string> = new Set(ROLES);
const AUTHENTICATOR: Check = (v, where) => {
  if (!isObject(v)) return `${where} is not an object`;
  if (v.kind === "totp") return fields({ seed: text, lastUsedStep: optional(count) })(v, where);
  if (v.kind === "oidc") return fields({ issuer: text, subject: text, clientId: text, requireMfa: flag, acr: optional(listOf(text)) })(v, where);
  if (v.kind === "service") return fields({ tokenHash: text })(v, where);
  return `${where}.kind is not one of totp, oidc, service`;
};
const OPERATOR_RECORD = fields({
  id: text,
  displayName: optionalText,
  roles: optional(listOf(oneOf(ROLE_NAMES))),
  authenticator: optional(AUTHENTICATOR),
  status: optional(oneOf(new Set(["active", "disabled"]))),
  failures: optional(listOf(text)),
  lockedUntil: optional(textOrNull),
});
const SESSION_RECORD = fields({ id: text, operator: text, station: text, origin: text, tokenHash: text, createdAt: text, expiresAt: text, revokedAt: optionalText });

const STATION_RECORD = fields({
  name: text,
  status: oneOf(new Set(["active", "disabled"])),
  ca: text,
  serial: text,
  notAfter: text,
  createdAt: text,
  createdBy: text,
  disabledAt: optionalText,
  disabledBy: optionalText,
});

const STATE = fields({
  organization: text,
  baseUrl: text,
  keyStore: optionalText,
  policyArc: optionalText,
  deviceUriTemplate: optionalText,
  kdf: fields({ salt: text, cost: count, blockSize: count, parallelization: count }),
  auditKey: fields({ keyUri: text, keyAlgorithm: oneOf(KEY_ALGORITHMS), publicKey: text, certificate: optionalText }),
  cas: recordOf(CA_RECORD),
  operators: recordOf(OPERATOR_RECORD),
  sessions: recordOf(SESSION_RECORD, true),
  dataKey: optional(fields({ wrapper: text, wrapped: text })),
  notify: optional(fields({ url: text })),
  crlNumbers: recordOf(count, true),
  responders: recordOf(fields({ ca: text, keyUri: text, keyAlgorithm: oneOf(KEY_ALGORITHMS), certificate: text, serial: text, notBefore: text, notAfter: text }), true),
  reportSigner: optional(fields({ keyUri: text, keyAlgorithm: oneOf(KEY_ALGORITHMS), certificate: text, serial: text, notBefore: text, notAfter: text })),
  dpsMirrors: recordOf(fields({ offset: count, at: text }), true),
  stations: recordOf(STATION_RECORD, true),
  tlsServer: optional(
    fields({ hosts: listOf(text), ca: text, keyUri: text, keyAlgorithm: oneOf(KEY_ALGORITHMS), certificate: text, serial: text, notBefore: text, notAfter: text }),
  ),
});

/** The state, if it has the shape of a Trustline home's; STORE_CORRUPT naming the first bad field otherwise. */
export function checkStateShape(value: unknown, path: string): HomeState {
  if (isObject(value) && value.format === "trustline-home/1") {
    const problem = STATE(value, "state");
    if (problem) throw new TrustlineError("STORE_CORRUPT", `the home's state file ${path} is damaged: ${problem}; restore it from a backup`, { details: { file: path, problem } });
  }
  return value as HomeState;
}
