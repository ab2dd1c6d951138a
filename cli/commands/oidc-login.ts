/**
 * `trustline login --oidc`: which identity provider to ask (the operator's, or the one every OIDC
 * operator of the home shares), and what to tell the person: the code and where to enter it, or
 * the URL to open. An http:// issuer is accepted only on loopback (a provider on this machine).
 */
import { type Home, type SignedInIdentity, TrustlineError } from "../../ca/index.js";

export async function oidcLogin(home: Home, options: { flow: "device-code" | "auth-code"; operator?: string; say: (text: string) => void }): Promise<SignedInIdentity> {
  const providers = new Map<string, { issuer: string; clientId: string }>();
  for (const o of Object.values(home.state.operators)) {
    const a = o.authenticator;
    if (a?.kind !== "oidc" || (options.operator !== undefined && o.id !== options.operator)) continue;
    providers.set(`${a.issuer} ${a.clientId}`, { issuer: a.issuer, clientId: a.clientId });
  }
  if (providers.size === 0) {
    throw new TrustlineError("USAGE", options.operator ? `${options.operator} does not sign in through OpenID Connect` : "no operator of this home signs in through OpenID Connect");
  }
  if (providers.size > 1) throw new TrustlineError("USAGE", "operators of this home use several identity providers: name yours with --operator");
  const { issuer, clientId } = [...providers.values()][0]!;
  // Loaded here, not at start-up: every other command would pay for the OpenID client's modules.
  const { oidcSignIn } = await import("../../ca/operators/oidc.js");
  return oidcSignIn({
    issuer,
    clientId,
    flow: options.flow,
    allowHttpLoopback: true,
    onUserCode: (p) => options.say(`To sign in, open ${p.verificationUriComplete ?? p.verificationUri} and enter the code ${p.userCode} (it expires in ${Math.round(p.expiresInSeconds / 60)} min)`),
    onAuthorizationUrl: (url) => options.say(`To sign in, open this URL in a browser on this machine:\n  ${url}`),
  });
}
