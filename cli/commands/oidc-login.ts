/** Placeholder until the OpenID Connect client lands (ca/operators/oidc.ts). */
import { type Home, type SignedInIdentity, TrustlineError } from "../../ca/index.js";

export async function oidcLogin(_home: Home, _options: { flow: "device-code" | "auth-code"; operator?: string; say: (text: string) => void }): Promise<SignedInIdentity> {
  throw new TrustlineError("USAGE", "OpenID Connect sign-in is not available in this build");
}
