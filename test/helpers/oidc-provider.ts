/**
 * A real OpenID provider on 127.0.0.1 for the sign-in tests: `oidc-provider` (a certified OpenID
 * provider) with discovery, JWKS, the device-code grant and the authorization-code grant with PKCE
 * for a public native client (loopback redirects on any port, RFC 8252 §7.3), ID tokens signed
 * ES256 and carrying `amr`/`acr`. The person at the browser is played over HTTP with a cookie jar:
 * the provider's own pages and redirects, and a login step that signs in the account the test
 * names, with the authentication methods the test names.
 */
import { generateKeyPairSync } from "node:crypto";
import type { Server } from "node:http";
import Provider, { type Configuration, type KoaContextWithOIDC } from "oidc-provider";

export interface ProviderAccount {
  /** The ID token's amr (e.g. ["pwd", "mfa"]). */
  readonly amr: readonly string[];
  readonly acr?: string;
}

export interface LoopbackProvider {
  readonly issuer: string;
  readonly clientId: string;
  /** As the person at a browser: open the device page, enter the code, sign in as `subject` (or refuse). */
  approveDevice(userCode: string, subject: string, options?: { deny?: boolean }): Promise<void>;
  /** As the person at a browser: follow the authorization URL, sign in as `subject`, land on the loopback redirect. */
  completeAuthorization(url: string, subject: string): Promise<void>;
  close(): Promise<void>;
}

/** A browser's cookies and redirects, by hand (fetch keeps neither). */
class Browser {
  readonly #cookies = new Map<string, string>();

  async go(url: string, init: RequestInit = {}, hops = 10): Promise<{ url: string; status: number; body: string }> {
    const response = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; ") } });
    for (const c of response.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair!.indexOf("=");
      this.#cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    const location = response.headers.get("location");
    if (location && response.status >= 300 && response.status < 400 && hops > 0) {
      await response.body?.cancel();
      return this.go(new URL(location, url).href, {}, hops - 1);
    }
    return { url, status: response.status, body: await response.text() };
  }

  /** Submit the page's form (every input it holds, plus `extra`). */
  async submit(page: { url: string; body: string }, extra: Record<string, string> = {}): Promise<{ url: string; status: number; body: string }> {
    const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/.exec(page.body);
    if (!form) throw new Error(`no form on ${page.url}:\n${page.body.slice(0, 500)}`);
    const fields = new URLSearchParams();
    for (const m of form[2]!.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"[^>]*>/g)) fields.set(m[1]!, m[2]!);
    for (const [k, v] of Object.entries(extra)) fields.set(k, v);
    return this.go(new URL(form[1]!, page.url).href, { method: "POST", body: fields, headers: { "content-type": "application/x-www-form-urlencoded" } });
  }
}

/** `publishWrongKey`: the JWKS endpoint serves another key under the signing key's id (a forged or mixed-up key set). */
export async function startOidcProvider(accounts: Readonly<Record<string, ProviderAccount>>, options: { publishWrongKey?: boolean } = {}): Promise<LoopbackProvider> {
  const clientId = "trustline-cli";
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  /** Who the next login at the provider is (set by the test before it plays the person). */
  let nextSubject = "";
  const config: Configuration = {
    clients: [
      {
        client_id: clientId,
        application_type: "native",
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"],
        response_types: ["code"],
        redirect_uris: ["http://127.0.0.1/callback"],
        id_token_signed_response_alg: "ES256",
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), kid: "test-es256", alg: "ES256", use: "sig" } as never] },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (ctx: KoaContextWithOIDC, form: string, _out?: unknown, err?: Error) => void (ctx.body = `<html><body>${err ? `<p class="error">${err.message}</p>` : ""}${form}</body></html>`),
        userCodeConfirmSource: async (ctx: KoaContextWithOIDC, form: string) => void (ctx.body = `<html><body>${form}</body></html>`),
        successSource: async (ctx: KoaContextWithOIDC) => void (ctx.body = "<html><body>signed in</body></html>"),
      },
    },
    pkce: { required: () => true },
    // amr and acr in every ID token (as Entra ID puts amr), not only when the client asks for them.
    claims: { openid: ["sub", "amr", "acr"] },
    acrValues: ["urn:acme:loa:high", "urn:acme:loa:low"],
    findAccount: async (_ctx, sub) => (accounts[sub] ? { accountId: sub, claims: async () => ({ sub }) } : undefined),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { DeviceCode: 120, Interaction: 120, Session: 120, Grant: 120, AccessToken: 120, AuthorizationCode: 60, IdToken: 120 },
  };
  // The port must be known before the issuer: listen first, then mount the provider.
  const { createServer } = await import("node:http");
  let provider!: Provider;
  const server: Server = createServer((req, res) => provider.callback()(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  provider = new Provider(issuer, config);
  if (options.publishWrongKey) {
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
    provider.use(async (ctx, next) => {
      if (ctx.path !== "/jwks") return next();
      ctx.type = "application/jwk-set+json";
      ctx.body = { keys: [{ ...other, kid: "test-es256", alg: "ES256", use: "sig" }] };
    });
  }
  // The login step: sign in the account the test named, with its authentication methods.
  provider.use(async (ctx, next) => {
    const m = /^\/interaction\/([^/]+)$/.exec(ctx.path);
    if (!m || ctx.method !== "GET") return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const account = accounts[nextSubject];
    let result: Record<string, unknown>;
    if (!account) result = { error: "access_denied", error_description: "no such account" };
    else if (details.prompt.name === "login") result = { login: { accountId: nextSubject, amr: [...account.amr], ...(account.acr ? { acr: account.acr } : {}) } };
    else {
      // Consent: grant the client the openid scope it asked for.
      const grant = new provider.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string });
      grant.addOIDCScope("openid");
      result = { consent: { grantId: await grant.save() } };
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.redirect(to);
  });
  return {
    issuer,
    clientId,
    async approveDevice(userCode, subject, options = {}) {
      nextSubject = subject;
      const browser = new Browser();
      // The pages post themselves (the code, then the confirmation), then the login step runs.
      let page = await browser.go(`${issuer}/device?user_code=${encodeURIComponent(userCode)}`);
      for (let i = 0; i < 6 && page.status < 400 && page.body.includes("<form"); i++) {
        page = await browser.submit(page, options.deny && page.body.includes("op.deviceConfirmForm") ? { abort: "yes" } : {});
      }
      if (page.status >= 400 && !options.deny) throw new Error(`device approval failed (${page.status}): ${page.body.slice(0, 300)}`);
    },
    async completeAuthorization(url, subject) {
      nextSubject = subject;
      const landed = await new Browser().go(url);
      if (landed.status !== 200 || !landed.url.startsWith("http://127.0.0.1:") || !landed.url.includes("/callback")) {
        throw new Error(`the authorization did not land on the loopback redirect (${landed.status} at ${landed.url}): ${landed.body.slice(0, 300)}`);
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
