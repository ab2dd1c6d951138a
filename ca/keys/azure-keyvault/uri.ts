/**
 * Key Vault key URIs: a key `azure-keyvault://<vault-host>[:port]/keys/<name>[/<version>]`, a store
 * (where new keys are made) `azure-keyvault://<vault-host>[:port]/keys/[?hsm=true]`. The vault is
 * reached at `https://<vault-host>[:port]`, the only way the service is offered.
 */
import { TrustlineError } from "../../errors.js";

export interface VaultKeyUri {
  /** `https://<host>[:port]` */
  readonly vaultUrl: string;
  readonly host: string;
  readonly name?: string;
  readonly version?: string;
  /** A store asking for HSM-protected key types (EC-HSM, RSA-HSM). */
  readonly hsm: boolean;
  /** A vault on this machine (tests): its challenge names a resource that is not its host. */
  readonly loopback: boolean;
}

const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$|^\d{1,3}(?:\.\d{1,3}){3}$|^\[[0-9a-f:]+\]$/;
const NAME = /^[0-9A-Za-z-]{1,127}$/;
const VERSION = /^[0-9a-f]{32}$/;

function bad(uri: string, why: string): TrustlineError {
  return new TrustlineError("USAGE", `"${uri.slice(0, 100).replace(/[\u0000-\u001f\u007f]/g, "?")}" is not a Key Vault key URI: ${why}; e.g. azure-keyvault://acme-pki.vault.azure.net/keys/device-ca`);
}

export function parseVaultKeyUri(uri: string): VaultKeyUri {
  if (uri.length > 1024) throw bad(uri, "longer than 1024 characters");
  const m = /^azure-keyvault:\/\/([^/?#]+)\/keys\/([^?#]*)(?:\?([^#]*))?$/.exec(uri);
  if (!m) throw bad(uri, "the form is azure-keyvault://<vault-host>/keys/<name>[/<version>]");
  const [, authority, path, query] = m as unknown as [string, string, string, string | undefined];
  const hp = /^(.+?)(?::(\d{1,5}))?$/.exec(authority.toLowerCase())!;
  const host = hp[1]!;
  const port = hp[2];
  if (!HOST.test(host)) throw bad(uri, `"${host}" is not a host name`);
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw bad(uri, `port ${port} is out of range`);
  const segments = path === "" ? [] : path.replace(/\/$/, "").split("/");
  if (segments.length > 2) throw bad(uri, "too many path segments after /keys/");
  const [name, version] = segments;
  if (name !== undefined && !NAME.test(name)) throw bad(uri, `key name "${name.slice(0, 40)}" must be 1-127 letters, digits and -`);
  if (version !== undefined && !VERSION.test(version)) throw bad(uri, `key version "${version.slice(0, 40)}" is not a Key Vault version (32 hex digits)`);
  let hsm = false;
  for (const q of query ? query.split("&") : []) {
    if (q === "hsm=true") hsm = true;
    else if (q !== "hsm=false") throw bad(uri, `unknown query "${q.slice(0, 30)}" (only hsm=true)`);
  }
  const loopback = host === "127.0.0.1" || host === "localhost" || host === "[::1]";
  return { vaultUrl: `https://${host}${port ? `:${port}` : ""}`, host: `${host}${port ? `:${port}` : ""}`, ...(name ? { name } : {}), ...(version ? { version } : {}), hsm, loopback };
}

export function formatVaultKeyUri(vault: VaultKeyUri, name: string, version: string): string {
  return `azure-keyvault://${vault.host}/keys/${name}/${version}`;
}
