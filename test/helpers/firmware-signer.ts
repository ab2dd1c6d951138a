/** A CI pipeline's firmware signer for tests: a fresh key and certificate, as files the CLI and OpenSSL read. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCsr, type Home, type IssuedCertificate, issueSignerCertificate, type RequestOptions } from "../../ca/index.js";
import { newKeyPair } from "./keys.js";

export interface SignerFiles {
  readonly name: string;
  readonly issued: IssuedCertificate;
  /** Signer certificate followed by the firmware CA (what `trustline issue signer --chain` writes). */
  readonly certPath: string;
  /** The signer certificate alone (for `openssl cms -sign -signer`). */
  readonly leafPath: string;
  /** The signer's private key, PKCS#8 PEM. */
  readonly keyPath: string;
}

/** Issue signer `name` from `home` for a new key on `curve`, and write its files into `dir`. */
export async function writeSigner(home: Home, dir: string, name: string, options: RequestOptions & { readonly curve?: "P-256" | "P-384" } = {}): Promise<SignerFiles> {
  const { curve = "P-256", ...request } = options;
  const { privateKey } = newKeyPair("ec", { namedCurve: curve });
  const keyPath = join(dir, `${name}.key`);
  writeFileSync(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }));
  const issued = await issueSignerCertificate(home, createCsr(privateKey, "x"), name, request);
  const certPath = join(dir, `${name}.pem`);
  const leafPath = join(dir, `${name}-leaf.pem`);
  writeFileSync(certPath, issued.pem + issued.chain.join(""));
  writeFileSync(leafPath, issued.pem);
  return { name, issued, certPath, leafPath, keyPath };
}
