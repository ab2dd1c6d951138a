/**
 * OpenID Connect sign-in through the organisation's identity provider (Entra ID, ADFS, any
 * certified provider), with `openid-client` (a certified relying-party library): the device-code
 * flow (RFC 8628) for a terminal on a line PC, or the authorization-code flow with PKCE (S256) on
 * a loopback redirect (RFC 8252 §7.3) for a browser on the same machine. The library validates the
 * ID token (signature from the provider's JWKS, issuer, audience, expiry, and nonce in the
 * authorization-code flow); what comes out is the issuer, subject, `amr` and `acr` that map to an
 * operator (sessions.ts). No token leaves this module, and none is put in an error message.
 */
import { createServer, type Server } from "node:http";
import * as client from "openid-client";
import { TrustlineError } from "../errors.js";
import type { SignedInIdentity } from "./sessions.js";

export interface OidcSignInOptions {
  /** The issuer URL; discovery at <issuer>/.well-known/openid-configuration. */
  readonly issuer: string;
  readonly clientId: string;
  /** device-code: a code and a URL to visit from any browser; auth-code: a browser on this machine, back to 127.0.0.1. */
  readonly flow: "device-code" | "auth-code";
  /** Tell the person where to go and which code to enter (device-code). */
  readonly onUserCode?: (prompt: { verificationUri: string; verificationUriComplete?: string; userCode: string; expiresInSeconds: number }) => void;
  /** The URL to open in a browser (auth-code). */
  readonly onAuthorizationUrl?: (url: string) => void;
  /** The whole sign-in's bound (default 5 minutes). */
  readonly timeoutMs?: number;
  /** Permit an http:// issuer on 127.0.0.1 or localhost (a provider started by a test); https otherwise. */
  readonly allowHttpLoopback?: boolean;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

function issuerUrl(options: OidcSignInOptions): URL {
  let url: URL;
  try {
    url = new URL(options.issuer);
  } catch {
    throw new TrustlineError("USAGE", "the OpenID Connect issuer is not a URL");
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && LOOPBACK.has(url.hostname) && options.allowHttpLoopback) return url;
  throw new TrustlineError("USAGE", "the OpenID Connect issuer must be an https:// URL");
}

/** Sign in and return who the identity provider says this is. */
export async function oidcSignIn(options: OidcSignInOptions): Promise<SignedInIdentity> {
  const server = issuerUrl(options);
  const deadline = AbortSignal.timeout(options.timeoutMs ?? 5 * 60_000);
  let config: client.Configuration;
  try {
    config = await client.discovery(server, options.clientId, undefined, client.None(), {
      ...(server.protocol === "http:" ? { execute: [client.allowInsecureRequests] } : {}),
      timeout: 30,
    });
  } catch (e) {
    throw new TrustlineError("REMOTE_UNAVAILABLE", `the identity provider ${server.origin} could not be reached or gave no OpenID configuration (${reasonOf(e)})`, { cause: e });
  }
  // OpenID Connect lets a client skip the ID token's signature when it comes straight from the
  // token endpoint over TLS; a CA checks it anyway, against the provider's published keys.
  client.enableNonRepudiationChecks(config);
  const tokens = options.flow === "device-code" ? await deviceCodeFlow(config, options, deadline) : await authorizationCodeFlow(config, options, deadline);
  const claims = tokens.claims();
  if (!claims) throw new TrustlineError("AUTH_FAILED", "the identity provider returned no ID token", { details: { reason: "no-id-token" } });
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === "string") : [];
  return { issuer: claims.iss, subject: claims.sub, amr, ...(typeof claims.acr === "string" ? { acr: claims.acr } : {}) };
}

/** What both flows give: the token response, whose claims() are the validated ID token's. */
type Tokens = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

async function deviceCodeFlow(config: client.Configuration, options: OidcSignInOptions, deadline: AbortSignal): Promise<Tokens> {
  let started: client.DeviceAuthorizationResponse;
  try {
    started = await client.initiateDeviceAuthorization(config, { scope: "openid" });
  } catch (e) {
    throw refused(e, "the identity provider refused to start a device sign-in");
  }
  options.onUserCode?.({
    verificationUri: started.verification_uri,
    ...(started.verification_uri_complete ? { verificationUriComplete: started.verification_uri_complete } : {}),
    userCode: started.user_code,
    expiresInSeconds: started.expires_in,
  });
  // The library checks the signal between polls (5 s apart): race it so the bound is the bound.
  const polling = client.pollDeviceAuthorizationGrant(config, started, undefined, { signal: deadline });
  polling.catch(() => undefined);
  try {
    return await Promise.race([polling, aborted(deadline)]);
  } catch (e) {
    if (deadline.aborted) throw new TrustlineError("AUTH_FAILED", "nobody completed the sign-in in time", { details: { reason: "timeout" } });
    throw refused(e, "the device sign-in was not completed");
  }
}

async function authorizationCodeFlow(config: client.Configuration, options: OidcSignInOptions, deadline: AbortSignal): Promise<Tokens> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const { server, redirectUri, callback } = await loopbackRedirect(deadline);
  try {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: "openid",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    options.onAuthorizationUrl?.(url.href);
    const returned = await callback;
    try {
      return await client.authorizationCodeGrant(config, returned, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    } catch (e) {
      throw refused(e, "the sign-in was refused or did not complete");
    }
  } finally {
    server.close();
  }
}

/** A one-shot HTTP listener on 127.0.0.1 (random port) for the provider's redirect; bounded by the deadline. */
async function loopbackRedirect(deadline: AbortSignal): Promise<{ server: Server; redirectUri: string; callback: Promise<URL> }> {
  let deliver!: (url: URL) => void;
  let fail!: (e: Error) => void;
  const callback = new Promise<URL>((resolve, reject) => {
    deliver = resolve;
    fail = reject;
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    if (url.pathname !== "/callback") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("Trustline: signed in. You can close this window.\n");
    deliver(url);
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const onAbort = () => fail(new TrustlineError("AUTH_FAILED", "nobody completed the sign-in in time", { details: { reason: "timeout" } }));
  if (deadline.aborted) onAbort();
  deadline.addEventListener("abort", onAbort, { once: true });
  callback.catch(() => undefined).finally(() => deadline.removeEventListener("abort", onAbort));
  return { server, redirectUri: `http://127.0.0.1:${(server.address() as { port: number }).port}/callback`, callback };
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/** An OAuth error from the provider (access_denied, expired_token, invalid_grant) or a token that did not validate. */
function refused(e: unknown, what: string): TrustlineError {
  if (e instanceof TrustlineError) return e;
  const code = (e as { error?: unknown }).error;
  const reason = typeof code === "string" && /^[a-z_]{1,40}$/.test(code) ? code : "invalid-response";
  return new TrustlineError("AUTH_FAILED", `${what}: ${reason === "invalid-response" ? reasonOf(e) : reason}`, { cause: e, details: { reason } });
}

/** An error's name and first line, never a token (the libraries do not put tokens in messages; cap the length all the same). */
function reasonOf(e: unknown): string {
  const m = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return m.split("\n")[0]!.slice(0, 200);
}
