/**
 * `dps upload-ca`: the verified-CA flow through Azure Resource Manager, with Azure's own client
 * (@azure/arm-deviceprovisioningservices): upload the CA certificate to the DPS instance, ask for
 * a verification code, issue the proof-of-possession certificate (CN = the code, signed by the
 * CA's key, through the issuing pipeline), and have DPS verify it.
 *
 * Credentials: DefaultAzureCredential (environment, workload or managed identity, az login...)
 * unless the caller passes one; bearer tokens never reach a message or the audit log.
 */
import { createHash } from "node:crypto";
import type { Agent } from "node:https";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { caCertificateDer, caSigner, getCa } from "../issue.js";
import { remoteError, Secrets } from "./remote-errors.js";
import { issueVerificationCertificate } from "./verification.js";

/** What @azure/identity's TokenCredential offers (structural: any TokenCredential fits). */
export interface AccessTokenCredential {
  getToken(scopes: string | string[], options?: object): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

export interface UploadCaOptions {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  /** The DPS instance's resource name. */
  readonly dpsName: string;
  /** The certificate's name in DPS (default: the CA's name). */
  readonly certificateName?: string;
  /** The CA to upload and prove (default "device"). */
  readonly ca?: string;
  /** Default: DefaultAzureCredential from @azure/identity. */
  readonly credential?: AccessTokenCredential;
  /** Azure Resource Manager (default https://management.azure.com). */
  readonly endpoint?: string;
  /** An HTTPS agent (tests: a loopback server's trust). */
  readonly agent?: Agent;
}

export interface UploadCaResult {
  readonly ca: string;
  readonly certificateName: string;
  readonly resourceId?: string;
  /** SHA-1 of the CA certificate, hex, as DPS shows it. */
  readonly thumbprint: string;
  /** False when DPS already held this certificate. */
  readonly uploaded: boolean;
  /** True when DPS had already verified it: nothing was issued. */
  readonly alreadyVerified: boolean;
  readonly verified: boolean;
  readonly verificationCertificate?: { readonly serial: string; readonly notAfter: string };
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const ARM_SCOPE = "https://management.azure.com/.default";

export async function uploadCaToDps(home: Home, options: UploadCaOptions): Promise<UploadCaResult> {
  await home.authorize("dps.push");
  const caName = options.ca ?? "device";
  const ca = getCa(home, caName);
  if (ca.profile !== "device-ca" && ca.profile !== "root-ca") {
    throw new TrustlineError("INPUT_INVALID", `CA "${caName}" is a ${ca.profile}; DPS verifies the root or a device CA`);
  }
  const certificateName = options.certificateName ?? caName;
  const problems = [
    !NAME.test(certificateName) && `certificate name "${certificateName.slice(0, 80)}" must be 1-64 letters, digits and . _ -`,
    !/^[0-9a-fA-F-]{36}$/.test(options.subscriptionId) && "the subscription must be a subscription ID (a GUID)",
    !/^[-\w._()]{1,90}$/.test(options.resourceGroup) && "the resource group name is not valid",
    !/^[A-Za-z0-9-]{3,64}$/.test(options.dpsName) && "the DPS name is not valid (3-64 letters, digits and -)",
  ].filter((p): p is string => typeof p === "string");
  if (problems.length > 0) throw new TrustlineError("USAGE", problems.join("; "), { details: { problems } });

  // The CA key signs the proof later: open it first, so a missing passphrase stops us before Azure is touched.
  await caSigner(home, ca);
  const der = caCertificateDer(ca);
  const thumbprint = createHash("sha1").update(der).digest("hex").toUpperCase();
  const secrets = new Secrets();
  const credential = options.credential ?? new (await import("@azure/identity")).DefaultAzureCredential();
  // Remember every token handed out, so no message can carry one.
  const watched: AccessTokenCredential = {
    getToken: async (scopes, opts) => {
      const t = await credential.getToken(scopes, opts);
      secrets.add(t?.token);
      return t;
    },
  };
  const { IotDpsClient } = await import("@azure/arm-deviceprovisioningservices");
  const client = new IotDpsClient(watched as never, options.subscriptionId, {
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.agent ? { agent: options.agent } : {}),
    credentials: { scopes: [ARM_SCOPE] },
    userAgentOptions: { userAgentPrefix: "trustline" },
  });
  const certs = client.dpsCertificate;
  const { resourceGroup: rg, dpsName: dps } = options;
  const where = `certificate ${certificateName} of DPS ${dps}`;
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (e) {
      throw e instanceof TrustlineError ? e : remoteError(e, what, "ARM", secrets);
    }
  };
  const audit = (outcome: "ok" | "failed", details: Record<string, unknown>, reason?: string) =>
    home.transaction(() => home.record([{ action: "dps.upload-ca", outcome, ...home.who, ca: caName, serial: ca.serial, ...(reason ? { reason } : {}), details: { dps, resourceGroup: rg, certificateName, thumbprint, ...details } }]));

  try {
    let existing: Awaited<ReturnType<typeof certs.get>> | undefined;
    try {
      existing = await certs.get(certificateName, rg, dps);
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw remoteError(e, `reading ${where}`, "ARM", secrets);
    }
    const same = existing?.properties?.thumbprint?.toUpperCase() === thumbprint;
    if (existing && same && existing.properties?.isVerified) {
      await audit("ok", { uploaded: false, alreadyVerified: true });
      return { ca: caName, certificateName, ...(existing.id ? { resourceId: existing.id } : {}), thumbprint, uploaded: false, alreadyVerified: true, verified: true };
    }
    let etag = existing?.etag;
    let resourceId = existing?.id;
    if (!existing || !same) {
      const put = await call(`uploading ${where}`, () =>
        certs.createOrUpdate(rg, dps, certificateName, { properties: { certificate: der } }, existing?.etag ? { ifMatch: existing.etag } : {}),
      );
      etag = put.etag;
      resourceId = put.id ?? resourceId;
    }
    if (!etag) throw new TrustlineError("REMOTE_REJECTED", `ARM returned ${where} without an etag; cannot ask for a verification code`);
    const code = await call(`asking for a verification code for ${where}`, () => certs.generateVerificationCode(certificateName, etag!, rg, dps));
    const verificationCode = code.properties?.verificationCode;
    if (!verificationCode || !code.etag) throw new TrustlineError("REMOTE_REJECTED", `ARM returned no verification code (or no etag) for ${where}`);
    const proof = await issueVerificationCertificate(home, verificationCode, { ca: caName });
    const verified = await call(`verifying ${where}`, () => certs.verifyCertificate(certificateName, code.etag!, rg, dps, { certificate: proof.pem }));
    if (verified.properties?.isVerified !== true) {
      throw new TrustlineError("REMOTE_REJECTED", `DPS ${dps} did not mark ${certificateName} as verified after the proof of possession`, { details: { serial: proof.record.serial } });
    }
    await audit("ok", { uploaded: !existing || !same, alreadyVerified: false, verificationSerial: proof.record.serial });
    return {
      ca: caName,
      certificateName,
      ...(resourceId ? { resourceId } : {}),
      thumbprint,
      uploaded: !existing || !same,
      alreadyVerified: false,
      verified: true,
      verificationCertificate: { serial: proof.record.serial, notAfter: proof.record.notAfter },
    };
  } catch (e) {
    const reason = e instanceof Error ? secrets.redact(e.message) : String(e);
    await audit("failed", { ...(e instanceof TrustlineError ? { code: e.code } : {}) }, reason).catch(() => undefined);
    throw e;
  }
}
