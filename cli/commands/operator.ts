/**
 * Operators and their sign-in: `operator add|list|show|disable|enable|reset-mfa`, `login`,
 * `logout`, `session list|revoke`. One-time secrets (the otpauth URI, a service token) are shown
 * at enrolment only; session tokens go to a 0600 file, never to the terminal unless asked.
 */
import { rmSync } from "node:fs";
import { Command } from "commander";
import {
  addOperator,
  changeOperator,
  checkRoles,
  closeSession,
  listOperators,
  listSessions,
  type NewAuthenticator,
  type OperatorChange,
  type OperatorSummary,
  openSession,
  parseTtl,
  revokeSession,
  type SessionSummary,
  showOperator,
  TrustlineError,
} from "../../ca/index.js";
import { emit, examples, globals, note, openHome, credentialOptions } from "../context.js";
import { defaultEstSessionFile, readTokenFile, sessionFileOf, totpCode, writeTokenFile } from "../credential.js";
import { estClientFrom, type EstClientFlags } from "./enroll.js";
import { enrolmentText } from "../enrolment.js";
import { oidcLogin } from "./oidc-login.js";

function operatorLine(o: OperatorSummary): string {
  const how = o.authenticator === "oidc" ? `oidc ${o.oidc?.issuer}#${o.oidc?.subject}${o.oidc?.requireMfa ? " (MFA required)" : ""}` : o.authenticator;
  return `${o.id.padEnd(16)} ${o.status.padEnd(8)} ${(o.roles.join(",") || "-").padEnd(22)} ${how}${o.displayName ? `  "${o.displayName}"` : ""}`;
}

function sessionLine(s: SessionSummary): string {
  return `${s.id}  ${s.status.padEnd(7)} ${s.operator.padEnd(14)} @${s.station.padEnd(10)} ${s.createdAt} .. ${s.expiresAt}  ${s.origin}`;
}

interface AddCliOptions {
  role: string;
  name?: string;
  service?: boolean;
  tokenOut?: string;
  oidcIssuer?: string;
  oidcSubject?: string;
  oidcClientId?: string;
  requireMfa: boolean;
  acr?: string[];
}

/** The client id organisations register for Trustline unless they say otherwise. */
export const DEFAULT_OIDC_CLIENT_ID = "trustline";

function authenticatorOf(opts: AddCliOptions): NewAuthenticator {
  const oidc = opts.oidcIssuer !== undefined || opts.oidcSubject !== undefined;
  if (oidc && opts.service) throw new TrustlineError("USAGE", "--service and --oidc-* are two kinds of operator: choose one");
  if (opts.service) return { kind: "service" };
  if (!oidc) return { kind: "totp" };
  if (!opts.oidcIssuer || !opts.oidcSubject) throw new TrustlineError("USAGE", "--oidc-issuer and --oidc-subject go together");
  return { kind: "oidc", issuer: opts.oidcIssuer, subject: opts.oidcSubject, clientId: opts.oidcClientId ?? DEFAULT_OIDC_CLIENT_ID, requireMfa: opts.requireMfa, ...(opts.acr?.length ? { acr: opts.acr } : {}) };
}

export function operatorCommand(): Command {
  const operator = new Command("operator").description("operators, their roles (admin, officer, issuer, auditor) and how they sign in");

  operator
    .command("add")
    .argument("<id>", "operator id, e.g. j.martin or ci-bot")
    .description("enrol an operator (admin): an authenticator app (default), an OpenID Connect subject, or a service account")
    .requiredOption("--role <roles>", "comma-separated roles: admin, officer, issuer, auditor")
    .option("--name <text>", "display name")
    .option("--service", "a service account (CI): signs in with a long random token from a file")
    .option("--token-out <file>", "with --service: write the token to this new 0600 file instead of printing it")
    .option("--oidc-issuer <url>", "signs in through this OpenID Connect provider (issuer URL)")
    .option("--oidc-subject <sub>", "the operator's subject at the provider (the ID token's sub)")
    .option("--oidc-client-id <id>", "the client registered at the provider for Trustline (default trustline)")
    .option("--no-require-mfa", "with --oidc-*: accept a sign-in the provider does not report as multi-factor")
    .option("--acr <value...>", "with --oidc-*: acr values that count as multi-factor")
    .addHelpText(
      "after",
      examples(
        "trustline operator add j.martin --role issuer --name 'Jeanne Martin' --totp 123456 --operator admin",
        "trustline operator add ci-bot --service --role officer --token-out /run/secrets/trustline-ci.token",
        "trustline operator add a.chen --role officer --oidc-issuer https://login.microsoftonline.com/<tenant>/v2.0 --oidc-subject <sub> --oidc-client-id <app-id>",
        "trustline operator add ci-bot --service --role issuer   # prints the token once: keep it in a 0600 file",
      ),
    )
    .action(async (id: string, opts: AddCliOptions, command: Command) => {
      const home = await openHome(command, true);
      const authenticator = authenticatorOf(opts);
      if (opts.tokenOut && authenticator.kind !== "service") throw new TrustlineError("USAGE", "--token-out goes with --service");
      const enrolment = await addOperator(home, { id, roles: checkRoles(opts.role.split(",").map((r) => r.trim())), authenticator, ...(opts.name ? { displayName: opts.name } : {}) });
      let token = enrolment.token;
      if (token && opts.tokenOut) {
        writeTokenFile(opts.tokenOut, token);
        token = undefined;
        note(command, `Wrote the service token to ${opts.tokenOut} (0600); it is shown nowhere else`);
      }
      const shown = await enrolmentText(enrolment);
      emit(command, { operator: enrolment.operator, ...(enrolment.otpauthUri ? { otpauthUri: enrolment.otpauthUri } : {}), ...(token ? { token } : {}), ...(opts.tokenOut ? { tokenFile: opts.tokenOut } : {}) }, () =>
        [`Enrolled ${operatorLine(enrolment.operator)}`, ...shown, ...(token ? [`Service token (shown once; keep it in a 0600 file for TRUSTLINE_TOKEN_FILE):`, token] : [])].join("\n"),
      );
    });

  operator
    .command("list")
    .description("list operators, their roles, how they sign in and their status")
    .addHelpText("after", examples("trustline operator list", "trustline operator list --json"))
    .action(async (_opts: unknown, command: Command) => {
      const home = await openHome(command, false);
      const list = listOperators(home);
      emit(command, list, () => list.map(operatorLine).join("\n"));
    });

  operator
    .command("show")
    .argument("<id>", "operator id")
    .description("show one operator")
    .action(async (id: string, _opts: unknown, command: Command) => {
      const home = await openHome(command, false);
      const o = showOperator(home, id);
      emit(command, o, () => [operatorLine(o), `  created ${o.createdAt}${o.createdBy ? ` by ${o.createdBy}` : ""}`, ...(o.lockedUntil ? [`  locked until ${o.lockedUntil}`] : [])].join("\n"));
    });

  const change = (name: OperatorChange, description: string, example: string) =>
    operator
      .command(name)
      .argument("<id>", "operator id")
      .description(description)
      .option("--token-out <file>", "reset-mfa of a service account: write the new token to this new 0600 file")
      .addHelpText("after", examples(example))
      .action(async (id: string, opts: { tokenOut?: string }, command: Command) => {
        const home = await openHome(command, true);
        const result = await changeOperator(home, id, name);
        let token = result.token;
        if (token && opts.tokenOut) {
          writeTokenFile(opts.tokenOut, token);
          token = undefined;
        }
        const shown = await enrolmentText(result);
        emit(command, { operator: result.operator, ...(result.otpauthUri ? { otpauthUri: result.otpauthUri } : {}), ...(token ? { token } : {}) }, () =>
          [operatorLine(result.operator), ...shown, ...(token ? ["New service token (shown once):", token] : [])].join("\n"),
        );
      });
  change("disable", "disable an operator (admin): it can no longer sign in; its sessions are refused", "trustline operator disable j.martin");
  change("enable", "enable an operator again, or unlock one locked after failed sign-ins (admin)", "trustline operator enable j.martin");
  change("reset-mfa", "give an operator a new authenticator secret (lost phone) or a service account a new token (admin)", "trustline operator reset-mfa j.martin");
  return operator;
}

export function loginCommand(): Command {
  return new Command("login")
    .description("sign in once (TOTP code or OpenID Connect) and open a shift session at this station; later commands use it without a code")
    .option("--ttl <duration>", "how long the session lasts, e.g. 8h, 90m (at most 24h)", "8h")
    .option("--oidc", "sign in through the operator's OpenID Connect provider")
    .option("--flow <flow>", "with --oidc: device-code (a terminal on a line PC) or auth-code (a browser on this machine)", "device-code")
    .option("--print-token", "print the session token (for TRUSTLINE_SESSION) instead of writing the session file")
    .option("--est <url>", "sign in through a Trustline EST service, at the station whose certificate --cert names (a line PC with no home)")
    .option("--cert <file>", "with --est: this station's certificate (env TRUSTLINE_EST_CERT)")
    .option("--key <file>", "with --est: its private key (env TRUSTLINE_EST_KEY)")
    .option("--cacert <file>", "with --est: the CA certificates that identify the server (env TRUSTLINE_EST_CACERT)")
    .addHelpText(
      "after",
      examples(
        "trustline login --operator j.martin --station line-7 --ttl 8h   # asks for the code",
        "trustline login --est https://ca.plant:8443 --cert line-7.pem --key line-7.key --cacert root.pem --operator j.martin",
        "trustline login --oidc --operator a.chen --station line-7",
        "export TRUSTLINE_SESSION=$(trustline login --operator j.martin --station line-7 --print-token)",
      ),
    )
    .action(async (opts: { ttl: string; oidc?: boolean; flow: string; printToken?: boolean } & Partial<EstClientFlags>, command: Command) => {
      const g = globals(command);
      const ttlMs = parseTtl(opts.ttl);
      if (opts.est !== undefined) return loginThroughEst(command, { ...opts, est: opts.est });
      const home = await openHome(command, true);
      const file = sessionFileOf(credentialOptions(g));
      let opened;
      if (opts.oidc) {
        if (opts.flow !== "device-code" && opts.flow !== "auth-code") throw new TrustlineError("USAGE", "--flow is device-code or auth-code");
        const identity = await oidcLogin(home, { flow: opts.flow, ...(g.operator ? { operator: g.operator } : {}), say: (text) => process.stderr.write(`${text}\n`) });
        opened = await openSession(home, { kind: "oidc", identity }, { ttlMs });
      } else {
        const operatorId = g.operator ?? home.actor.operator;
        const code = await totpCode(credentialOptions(g), operatorId);
        if (code === undefined) throw new TrustlineError("USAGE", "give the code of your authenticator app with --totp <code> or TRUSTLINE_TOTP (or run login on a terminal)");
        opened = await openSession(home, { kind: "totp", operator: operatorId, code }, { ttlMs });
      }
      if (opts.printToken) {
        process.stdout.write(g.json ? `${JSON.stringify({ session: opened.session, token: opened.token }, null, 2)}\n` : `${opened.token}\n`);
        return;
      }
      writeTokenFile(file, opened.token, { replace: true });
      emit(command, { session: opened.session, sessionFile: file }, () => `Signed in: ${sessionLine(opened.session)}\nSession file ${file} (0600); \`trustline logout\` ends it`);
    });
}

/** `login --est`: the service opens the session at the station its client certificate names. */
async function loginThroughEst(command: Command, opts: EstClientFlags & { ttl: string; oidc?: boolean; printToken?: boolean }): Promise<void> {
  const g = globals(command);
  if (opts.oidc) throw new TrustlineError("USAGE", "--oidc signs in at the CA server; through EST, sign in with your authenticator app's code");
  if (!g.operator) throw new TrustlineError("USAGE", "--est needs --operator <id> (who is signing in)");
  const code = await totpCode(credentialOptions(g), g.operator);
  if (code === undefined) throw new TrustlineError("USAGE", "give the code of your authenticator app with --totp <code> or TRUSTLINE_TOTP (or run login on a terminal)");
  const client = estClientFrom(command, opts, { session: false, connections: 1 });
  try {
    const opened = await client.login(g.operator, code, opts.ttl);
    if (opts.printToken) {
      process.stdout.write(g.json ? `${JSON.stringify(opened, null, 2)}\n` : `${opened.token}\n`);
      return;
    }
    const file = g.sessionFile ?? process.env.TRUSTLINE_SESSION_FILE ?? defaultEstSessionFile(client.base.href);
    writeTokenFile(file, opened.token, { replace: true });
    emit(command, { session: opened.session, sessionFile: file, service: client.base.href }, () => `Signed in through ${client.base.href}: ${opened.session.operator} at ${opened.session.station} until ${opened.session.expiresAt}\nSession file ${file} (0600); \`trustline enroll --est\` and \`issue batch --est\` use it`);
  } finally {
    client.close();
  }
}

export function logoutCommand(): Command {
  return new Command("logout")
    .description("end this station's shift session (its token is refused from now on) and remove the session file")
    .addHelpText("after", examples("trustline logout", "TRUSTLINE_SESSION_FILE=/run/line-7.session trustline logout"))
    .action(async (_opts: unknown, command: Command) => {
      const g = globals(command);
      const file = sessionFileOf(credentialOptions(g));
      const token = process.env.TRUSTLINE_SESSION || readTokenFile(file, "session");
      const home = await openHome(command, true);
      const closed = await closeSession(home, token);
      if (!process.env.TRUSTLINE_SESSION) rmSync(file, { force: true });
      emit(command, closed, () => `Signed out: ${sessionLine(closed)}`);
    });
}

export function sessionCommand(): Command {
  const session = new Command("session").description("shift sessions: list them, revoke one (admin)");
  session
    .command("list")
    .description("list active sessions (--all: expired and revoked too)")
    .option("--all", "include expired and revoked sessions")
    .addHelpText("after", examples("trustline session list", "trustline session list --all --json"))
    .action(async (opts: { all?: boolean }, command: Command) => {
      const home = await openHome(command, false);
      const list = listSessions(home, { all: opts.all === true });
      emit(command, list, () => (list.length ? list.map(sessionLine).join("\n") : "no active sessions"));
    });
  session
    .command("revoke")
    .argument("<id>", "session id (from session list)")
    .description("revoke a session (admin): its token is refused from now on")
    .addHelpText("after", examples("trustline session revoke 3f9c2a7e1b0d4c55"))
    .action(async (id: string, _opts: unknown, command: Command) => {
      const home = await openHome(command, true);
      const revoked = await revokeSession(home, id);
      emit(command, revoked, () => `Revoked: ${sessionLine(revoked)}`);
    });
  return session;
}
