/**
 * The EST server's own TLS identity (`trustline serve --est`): a key the home makes as an
 * encrypted file key (never an unencrypted key in the home; a vault or token key cannot be handed
 * to node's TLS layer) and a `tls-server` certificate from the device CA naming every host the
 * server answers at (certificate-policy.md §7.1.11). An admin's write (`station.manage`); issuing
 * again replaces it (the newest wins).
 */
import { randomBytes, type KeyObject } from "node:crypto";
import { rmSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { type KeyAlgorithm, parseHost } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { getCa, issueCertificate, sha256Hex } from "../issue.js";
import { derFromPemOrDer } from "../pem.js";
import { spkiOfCertificate } from "../x509/cert-fields.js";
import { describePublicKey, publicKeyFromSpki } from "../x509/keys.js";
import { chainToRoot } from "./stations.js";
import type { TlsServerRecord } from "../store/state.js";

export type { TlsServerRecord };

/** Make the EST server's key (a file key) and certify it for `hosts`; recorded as `state.tlsServer`, audited (`tls.issue`). */
export async function issueTlsCertificate(
  home: Home,
  options: { hosts: readonly string[]; ca?: string; days?: number; algorithm?: "p256" | "p384" },
): Promise<{ record: TlsServerRecord; chainPem: readonly string[] }> {
  await home.authorize("station.manage");
  const caName = options.ca ?? "device";
  const caAlgorithm = getCa(home, caName).keyAlgorithm;
  // ECDSA only (the profile's keys): the CA's curve when it has one, else P-256.
  const algorithm: KeyAlgorithm = options.algorithm ?? (caAlgorithm === "p384" ? "p384" : "p256");
  const previous = (await home.refresh()).tlsServer;
  const keyRef = await home.keys.generate(algorithm, `tls-server-${home.clock().getTime().toString(36)}-${randomBytes(3).toString("hex")}`, "file:");
  let issued;
  try {
    issued = await issueCertificate(home, {
      profile: "tls-server",
      ca: caName,
      commonNames: [options.hosts[0] ?? ""],
      hosts: options.hosts,
      spki: keyRef.publicKey,
      key: describePublicKey(publicKeyFromSpki(keyRef.publicKey)),
      requestSha256: sha256Hex(keyRef.publicKey),
      keySource: "generated",
      ...(options.days !== undefined ? { validityDays: options.days } : {}),
    });
  } catch (e) {
    // Refused (or failed) before anything was recorded: the key made for it is of no use.
    const rel = keyRef.uri.slice("file:".length);
    rmSync(isAbsolute(rel) ? rel : join(home.dir, rel), { force: true });
    throw e;
  }
  const record: TlsServerRecord = {
    // As the certificate names them (DNS names in lower case): the policy accepted every one.
    hosts: options.hosts.map((h) => {
      const parsed = parseHost(h);
      return parsed.ok ? parsed.host.value : h;
    }),
    ca: issued.record.ca,
    keyUri: keyRef.uri,
    keyAlgorithm: keyRef.algorithm,
    certificate: issued.pem,
    serial: issued.record.serial,
    notBefore: issued.record.notBefore,
    notAfter: issued.record.notAfter,
  };
  await home.transaction(async () => {
    await home.updateState((s) => ({ ...s, tlsServer: record }));
    await home.record([
      {
        action: "tls.issue",
        outcome: "ok",
        ...home.who,
        ca: record.ca,
        serial: record.serial,
        profile: "tls-server",
        subject: issued.record.subject,
        details: { hosts: [...record.hosts], keyUri: record.keyUri, replaced: previous?.serial ?? null, notAfter: record.notAfter },
      },
    ]);
  });
  return { record, chainPem: chainToRoot(home, record.ca) };
}

/**
 * The key (decrypted in memory: node's TLS needs it), certificate and chain for `serve --est`.
 * node 20's `tls.createServer` takes the key as PEM or DER, not as a KeyObject: hand it
 * `key.export({ format: "pem", type: "pkcs8" })`, in memory, never to a file.
 */
export async function tlsServerIdentity(home: Home): Promise<{ key: KeyObject; certificatePem: string; chainPem: readonly string[] }> {
  const record = home.state.tlsServer;
  if (!record) throw new TrustlineError("NOT_FOUND", "this home has no TLS certificate for the EST server yet: run `trustline ca issue-tls --host <name>`");
  const der = derFromPemOrDer(Buffer.from(record.certificate), ["CERTIFICATE"]);
  if (!der) throw new TrustlineError("STORE_CORRUPT", "the home's state file holds a damaged TLS server certificate (state.tlsServer.certificate); issue a new one", { details: { problem: "state.tlsServer.certificate" } });
  const key = await home.keys.fileKey({ uri: record.keyUri, algorithm: record.keyAlgorithm, publicKey: spkiOfCertificate(der) });
  return { key, certificatePem: record.certificate, chainPem: chainToRoot(home, record.ca) };
}
