/**
 * Environment variables that carry secrets. The CLI reads them once; a process the toolkit starts
 * (the `serve --workers` processes) must not inherit them, since a process's environment is
 * readable in /proc/<pid>/environ by its user and survives in core dumps. Secrets reach such
 * processes over their IPC channel instead.
 */
export const SECRET_ENVIRONMENT = [
  "TRUSTLINE_PASSPHRASE",
  "TRUSTLINE_BACKUP_PASSPHRASE",
  "TRUSTLINE_KEY_PASSPHRASE",
  "TRUSTLINE_PKCS12_PASSPHRASE",
  "TRUSTLINE_DPS_CONNECTION_STRING",
  "TRUSTLINE_TOTP",
  "TRUSTLINE_SESSION",
  "TRUSTLINE_PKCS11_PIN",
  "AZURE_CLIENT_SECRET",
] as const;

/** The secrets a key backend reads from the environment: a serve worker gets them over IPC. */
export const KEY_BACKEND_SECRETS = ["TRUSTLINE_PKCS11_PIN"] as const;

/** Overrides for a child's environment that remove every secret (node drops variables set to undefined). */
export function scrubbedEnvironment(): Record<string, undefined> {
  return Object.fromEntries(SECRET_ENVIRONMENT.map((name) => [name, undefined]));
}
