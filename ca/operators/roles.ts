/**
 * Trusted roles (certificate-policy.md §5.2, issue 16) and what each allows. Reading needs no
 * role; every write names its action here, and issuing asks this table, never the reverse.
 */
export type Role = "admin" | "officer" | "issuer" | "auditor";

export type WriteAction =
  // admin
  | "ca.create"
  | "ca.move-key"
  | "operator.manage"
  | "revoke.mass"
  | "store.backup"
  | "store.restore"
  | "audit.certify"
  | "config.set"
  | "station.manage"
  // admin, auditor
  | "report.sign"
  // officer
  | "issue.signer"
  | "revoke.single"
  | "revoke.hold"
  | "crl.issue"
  | "dps.export"
  | "dps.push"
  // issuer
  | "issue.device";

const ALLOWED: Readonly<Record<Role, ReadonlySet<WriteAction>>> = {
  admin: new Set<WriteAction>(["ca.create", "ca.move-key", "operator.manage", "revoke.mass", "store.backup", "store.restore", "audit.certify", "config.set", "station.manage", "report.sign"]),
  officer: new Set<WriteAction>(["issue.signer", "revoke.single", "revoke.hold", "crl.issue", "dps.export", "dps.push"]),
  issuer: new Set<WriteAction>(["issue.device"]),
  auditor: new Set<WriteAction>(["report.sign"]),
};

export const ROLES: readonly Role[] = ["admin", "officer", "issuer", "auditor"];

/** Whether any of `roles` allows `action`. */
export function allows(roles: readonly Role[], action: WriteAction): boolean {
  return roles.some((r) => ALLOWED[r].has(action));
}

/** What `role` allows, in the table's order (certificate-policy.md §5.2.1 lists the same). */
export function actionsAllowed(role: Role): WriteAction[] {
  return [...ALLOWED[role]];
}

/** The roles that allow `action` (for an error that says which role to ask for). */
export function rolesAllowing(action: WriteAction): Role[] {
  return ROLES.filter((r) => ALLOWED[r].has(action));
}
