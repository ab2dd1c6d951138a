/**
 * A loopback Azure Resource Manager for one DPS instance's certificates (HTTPS on 127.0.0.1): the
 * paths and api-version @azure/arm-deviceprovisioningservices sends, a bearer token check, etags
 * and If-Match (409 / 412), verification codes, and a real proof-of-possession check: the
 * verification certificate must carry CN = the code and verify under the uploaded CA's key.
 */
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import type { Agent } from "node:https";
import { type RecordedRequest, startJsonLoopback } from "./loopback-tls.js";

/** The version the client (6.0.0) sends: KnownVersions.V20260831. */
export const ARM_DPS_API_VERSION = "2026-08-31";

interface StoredCert {
  der: Buffer;
  etag: string;
  isVerified: boolean;
  code?: string;
  created: string;
}

export interface FakeArm {
  readonly endpoint: string;
  readonly agent: Agent;
  readonly certificate: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly dpsName: string;
  /** The bearer token the server accepts. */
  token: string;
  /** A credential (TokenCredential shape) that hands out `token`, counting calls and scopes. */
  readonly credential: { getToken(scopes: string | string[]): Promise<{ token: string; expiresOnTimestamp: number }>; readonly scopes: string[] };
  readonly requests: RecordedRequest[];
  readonly certificates: Map<string, StoredCert>;
  /** Change the certificate's etag right after a verification code is handed out (a concurrent writer). */
  bumpEtagAfterCode?: boolean;
  close(): Promise<void>;
}

export async function startFakeArm(options: { subscriptionId?: string; resourceGroup?: string; dpsName?: string } = {}): Promise<FakeArm> {
  const subscriptionId = options.subscriptionId ?? "0b7f3c2e-6d4a-4e8b-9c1d-2a3b4c5d6e7f";
  const resourceGroup = options.resourceGroup ?? "iot-rg";
  const dpsName = options.dpsName ?? "acme-dps";
  const certificates = new Map<string, StoredCert>();
  const newEtag = () => `"${randomBytes(8).toString("hex")}"`;
  const base = `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Devices/provisioningServices/${dpsName}/certificates/`;
  let fake: FakeArm;

  const describe = (name: string, c: StoredCert) => {
    const x = new X509Certificate(c.der);
    return {
      id: `${base}${name}`,
      name,
      type: "Microsoft.Devices/provisioningServices/Certificates",
      etag: c.etag,
      properties: {
        subject: x.subject.replace(/\n/g, ", "),
        expiry: new Date(x.validTo).toUTCString(),
        thumbprint: createHash("sha1").update(c.der).digest("hex").toUpperCase(),
        isVerified: c.isVerified,
        certificate: c.der.toString("base64"),
        created: c.created,
        updated: new Date().toUTCString(),
      },
    };
  };

  const loopback = await startJsonLoopback(({ req, url, query, body, reply: answer }) => {
    // ARM always names its content type and tags every answer with a request id.
    const reply = (status: number, payload: unknown) =>
      answer(status, payload, { "content-type": "application/json; charset=utf-8", "x-ms-request-id": randomBytes(8).toString("hex") });
    const error = (status: number, code: string, message: string) => reply(status, { error: { code, message } });
    if (req.headers.authorization !== `Bearer ${fake.token}`) return error(401, "InvalidAuthenticationToken", "The access token is invalid.");
    if (query["api-version"] !== ARM_DPS_API_VERSION) return error(400, "InvalidApiVersionParameter", `The api-version '${query["api-version"]}' is invalid.`);
    if (!url.pathname.startsWith(base)) return error(404, "ResourceNotFound", `no resource at ${url.pathname}`);
    const [name, action, ...more] = url.pathname.slice(base.length).split("/");
    if (!name || more.length > 0) return error(404, "ResourceNotFound", "no such resource");
    const cert = certificates.get(name);
    const ifMatch = req.headers["if-match"];
    if (action === undefined && req.method === "GET") return cert ? reply(200, describe(name, cert)) : error(404, "NotFound", `certificate ${name} not found`);
    if (action === undefined && req.method === "PUT") {
      const b64 = (body as { properties?: { certificate?: string } })?.properties?.certificate;
      let der: Buffer;
      try {
        der = Buffer.from(b64 ?? "", "base64");
        new X509Certificate(der);
      } catch {
        return error(400, "InvalidCertificate", "properties.certificate is not a base64 X.509 certificate");
      }
      if (cert && !ifMatch) return error(409, "Conflict", `certificate ${name} exists; give its etag to replace it`);
      if (ifMatch && ifMatch !== cert?.etag) return error(412, "PreconditionFailed", "The etag does not match");
      const stored: StoredCert = { der, etag: newEtag(), isVerified: false, created: new Date().toUTCString() };
      certificates.set(name, stored);
      return reply(200, describe(name, stored));
    }
    if (!cert) return error(404, "NotFound", `certificate ${name} not found`);
    if (req.method !== "POST") return error(405, "MethodNotAllowed", "method not allowed");
    if (ifMatch !== cert.etag) return error(412, "PreconditionFailed", "The etag does not match the certificate's");
    if (action === "generateVerificationCode") {
      cert.code = randomBytes(16).toString("hex").toUpperCase();
      cert.etag = newEtag();
      const d = describe(name, cert);
      reply(200, { name, etag: cert.etag, id: d.id, type: d.type, properties: { ...d.properties, verificationCode: cert.code } });
      if (fake.bumpEtagAfterCode) cert.etag = newEtag();
      return;
    }
    if (action === "verify") {
      const pem = (body as { certificate?: string })?.certificate;
      let leaf: X509Certificate;
      try {
        leaf = new X509Certificate(pem ?? "");
      } catch {
        return error(400, "InvalidCertificate", "the verification certificate is not a certificate");
      }
      const ca = new X509Certificate(cert.der);
      const cn = /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1];
      if (!cert.code || cn !== cert.code) return error(400, "VerificationCodeMismatch", `the subject CN ${cn} is not the verification code`);
      if (leaf.issuer !== ca.subject || !leaf.verify(ca.publicKey)) return error(400, "VerificationFailed", "the verification certificate is not signed by the uploaded CA");
      cert.isVerified = true;
      cert.code = undefined;
      cert.etag = newEtag();
      return reply(200, describe(name, cert));
    }
    return error(404, "ResourceNotFound", `no action ${action}`);
  });
  const scopes: string[] = [];
  fake = {
    endpoint: `https://localhost:${loopback.port}`,
    agent: loopback.agent,
    certificate: loopback.certificate,
    subscriptionId,
    resourceGroup,
    dpsName,
    token: `test-token-${randomBytes(12).toString("hex")}`,
    credential: {
      scopes,
      getToken: async (s: string | string[]) => {
        scopes.push(...(Array.isArray(s) ? s : [s]));
        return { token: fake.token, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    },
    requests: loopback.requests,
    certificates,
    close: loopback.close,
  };
  return fake;
}
