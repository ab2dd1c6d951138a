/**
 * Where the backend's Azure token comes from. By default `DefaultAzureCredential` (environment,
 * workload or managed identity, Azure CLI…). A signing station that must not hold a long-lived
 * identity can instead be handed a short-lived token in a file (TRUSTLINE_AZURE_TOKEN_FILE, e.g.
 * written by `az account get-access-token --resource https://vault.azure.net`), re-read whenever
 * it changes so a rotated token is picked up without a restart.
 *
 * Every token handed to the SDK is remembered, so no error message can carry one (`redact`).
 */
import { readFileSync, statSync } from "node:fs";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { TrustlineError } from "../../errors.js";

export const TOKEN_FILE_ENV = "TRUSTLINE_AZURE_TOKEN_FILE";

/** How often the SDK asks again for a file token (so a replaced file is read within this time). */
const FILE_REFRESH_MS = 60_000;
/** The assumed lifetime of a token whose expiry cannot be read (az tokens live 60-90 minutes). */
const UNKNOWN_LIFETIME_MS = 5 * 60_000;

/** Remembers the tokens in play so any text can be scrubbed of them. */
export class TokenRedactor {
  readonly #tokens = new Set<string>();

  remember(token: string | undefined): void {
    if (token && token.length >= 8) this.#tokens.add(token);
  }

  redact(text: string): string {
    let out = text.replace(/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, "Bearer [redacted]");
    for (const t of this.#tokens) out = out.split(t).join("[redacted]");
    return out;
  }
}

/** The `exp` claim of a JWT, in ms, without verifying it (the vault does that). */
function jwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as { exp?: unknown }).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The token in a file: either the bare token (`--query accessToken -o tsv`) or the JSON `az`
 * prints by default (`accessToken`, `expires_on` in seconds).
 */
export function readTokenFile(path: string): AccessToken {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new TrustlineError("AUTH_REQUIRED", `cannot read the Azure token file ${path} (${(e as NodeJS.ErrnoException).code ?? "error"}) named by ${TOKEN_FILE_ENV}: write it with az account get-access-token --resource https://vault.azure.net --query accessToken -o tsv`, {
      details: { tokenFile: path },
    });
  }
  text = text.replace(/\r?\n$/, "");
  let token = text.trim();
  let expiresOn: number | undefined;
  if (token.startsWith("{")) {
    try {
      const doc = JSON.parse(token) as { accessToken?: unknown; expires_on?: unknown };
      token = typeof doc.accessToken === "string" ? doc.accessToken : "";
      if (typeof doc.expires_on === "number" || (typeof doc.expires_on === "string" && /^\d+$/.test(doc.expires_on))) expiresOn = Number(doc.expires_on) * 1000;
    } catch {
      token = "";
    }
  }
  if (token === "" || /\s/.test(token)) {
    throw new TrustlineError("AUTH_REQUIRED", `the Azure token file ${path} named by ${TOKEN_FILE_ENV} holds no access token: write it with az account get-access-token --resource https://vault.azure.net --query accessToken -o tsv`, {
      details: { tokenFile: path },
    });
  }
  expiresOn ??= jwtExpiry(token);
  if (expiresOn !== undefined && expiresOn <= Date.now()) {
    throw new TrustlineError("AUTH_REQUIRED", `the Azure token in ${path} (${TOKEN_FILE_ENV}) expired at ${new Date(expiresOn).toISOString()}: fetch a new one with az account get-access-token --resource https://vault.azure.net`, {
      details: { tokenFile: path },
    });
  }
  return { token, expiresOnTimestamp: expiresOn ?? Date.now() + UNKNOWN_LIFETIME_MS, refreshAfterTimestamp: Date.now() + FILE_REFRESH_MS, tokenType: "Bearer" };
}

/** A credential that hands out the token in `path`, re-reading the file when it changed. */
export function tokenFileCredential(path: string): TokenCredential {
  let cached: { stamp: string; token: AccessToken } | undefined;
  return {
    getToken: async (): Promise<AccessToken> => {
      let stamp = "";
      try {
        const s = statSync(path);
        stamp = `${s.mtimeMs}:${s.size}:${s.ino}`;
      } catch {
        // readTokenFile reports the missing file.
      }
      if (!cached || cached.stamp !== stamp || cached.token.expiresOnTimestamp <= Date.now()) cached = { stamp, token: readTokenFile(path) };
      return { ...cached.token, refreshAfterTimestamp: Date.now() + FILE_REFRESH_MS };
    },
  };
}

/** The credential the environment asks for; every token it yields is remembered by `redactor`. */
export async function credentialFor(env: NodeJS.ProcessEnv, redactor: TokenRedactor, given?: TokenCredential): Promise<TokenCredential> {
  const file = env[TOKEN_FILE_ENV];
  const inner = given ?? (file ? tokenFileCredential(file) : new (await import("@azure/identity")).DefaultAzureCredential());
  return {
    getToken: async (scopes: string | string[], options?: GetTokenOptions) => {
      const t = await inner.getToken(scopes, options);
      redactor.remember(t?.token);
      return t;
    },
  };
}
