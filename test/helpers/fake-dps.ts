/**
 * A loopback DPS data-plane service (HTTPS on 127.0.0.1) that speaks the protocol of API
 * 2021-10-01 as the service does, for Azure's own client to talk to: it checks the exact paths,
 * the api-version, the SAS token (recomputing its HMAC-SHA256 with the shared key), the bodies
 * (against the 2021-10-01 models) and If-Match, and answers like DPS: etags, 409 for an existing
 * record without If-Match, 412 for a stale one, bulk results with per-enrollment errors.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual, X509Certificate } from "node:crypto";
import type { Agent } from "node:https";
import { type RecordedRequest, startJsonLoopback } from "./loopback-tls.js";
import { validate } from "./dps-model.js";

export const DPS_API_VERSION = "2021-10-01";

interface Stored {
  etag: string;
  body: Record<string, unknown>;
  created: string;
}

export interface FakeDps {
  readonly hostName: string;
  readonly keyName: string;
  readonly key: string;
  readonly port: number;
  /** HostName=localhost;SharedAccessKeyName=...;SharedAccessKey=... */
  readonly connectionString: string;
  /** Trusts the server and carries its port (HostName cannot). */
  readonly agent: Agent;
  /** The server's certificate (PEM), for --trusted-ca. */
  readonly certificate: string;
  readonly requests: RecordedRequest[];
  readonly groups: Map<string, Stored>;
  readonly enrollments: Map<string, Stored>;
  /** Run after every successful GET of a group: a concurrent writer changing it. */
  afterGroupGet?: (id: string) => void;
  close(): Promise<void>;
}

function serviceError(errorCode: number, message: string): unknown {
  return { errorCode, trackingId: randomUUID(), message, timestampUtc: new Date().toISOString() };
}

/** Parse and check "SharedAccessSignature sr=...&sig=...&skn=...&se=..." the way the service does. */
export function checkSas(header: string | undefined, hostName: string, keyName: string, key: string): string | undefined {
  if (!header?.startsWith("SharedAccessSignature ")) return "no SharedAccessSignature";
  const fields = new Map(header.slice("SharedAccessSignature ".length).split("&").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const));
  const sr = decodeURIComponent(fields.get("sr") ?? "");
  const sig = decodeURIComponent(fields.get("sig") ?? "");
  const skn = decodeURIComponent(fields.get("skn") ?? "");
  const se = fields.get("se") ?? "";
  if (sr.toLowerCase() !== hostName.toLowerCase()) return `sr ${sr} is not this DPS`;
  if (skn !== keyName) return `unknown policy ${skn}`;
  if (!/^\d+$/.test(se) || Number(se) * 1000 < Date.now()) return "expired";
  const expected = createHmac("sha256", Buffer.from(key, "base64")).update(`${sr}\n${se}`).digest();
  const given = Buffer.from(sig, "base64");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "bad signature";
  return undefined;
}

function commonName(pem: string): string | undefined {
  try {
    return /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(pem).subject)?.[1];
  } catch {
    return undefined;
  }
}

export async function startFakeDps(options: { keyName?: string; key?: string } = {}): Promise<FakeDps> {
  const keyName = options.keyName ?? "provisioningserviceowner";
  const key = options.key ?? randomBytes(32).toString("base64");
  const groups = new Map<string, Stored>();
  const enrollments = new Map<string, Stored>();
  let etagCounter = 0;
  const nextEtag = () => `"${(++etagCounter).toString(16).padStart(8, "0")}-0000-0000-0000-000000000000"`;
  const stamp = (s: Stored) => ({ ...s.body, etag: s.etag, createdDateTimeUtc: s.created, lastUpdatedDateTimeUtc: new Date().toISOString() });
  let fake: FakeDps;

  const loopback = await startJsonLoopback(({ req, url, query, body, reply }) => {
    const sasProblem = checkSas(req.headers.authorization, "localhost", keyName, key);
    if (sasProblem) return reply(401, serviceError(401002, `Unauthorized: ${sasProblem}`));
    if (query["api-version"] !== DPS_API_VERSION) return reply(400, serviceError(400001, `api-version ${query["api-version"]} is not supported`));
    const ifMatch = req.headers["if-match"];

    const group = /^\/enrollmentGroups\/([^/]+)$/.exec(url.pathname);
    if (group) {
      const id = decodeURIComponent(group[1]!);
      const existing = groups.get(id.toLowerCase());
      if (req.method === "GET") {
        if (!existing) return reply(404, serviceError(404204, `Enrollment group ${id} not found`));
        reply(200, stamp(existing));
        fake.afterGroupGet?.(id);
        return;
      }
      if (req.method === "PUT") {
        const problems = validate(body, "EnrollmentGroup");
        if ((body as { enrollmentGroupId?: string })?.enrollmentGroupId !== id) problems.push("enrollmentGroupId differs from the path");
        if (problems.length > 0) return reply(400, serviceError(400004, `Invalid enrollment group: ${problems.join("; ")}`));
        if (existing && !ifMatch) return reply(409, serviceError(409201, `Enrollment group ${id} already exists`));
        if (ifMatch && ifMatch !== "*" && ifMatch !== existing?.etag) return reply(412, serviceError(412002, "Precondition failed: the etag does not match"));
        const { etag: _etag, ...rest } = body as Record<string, unknown>;
        void _etag;
        const stored: Stored = { etag: nextEtag(), body: rest, created: existing?.created ?? new Date().toISOString() };
        groups.set(id.toLowerCase(), stored);
        return reply(200, stamp(stored));
      }
    }
    if (url.pathname === "/enrollments/" || url.pathname === "/enrollments") {
      if (req.method !== "POST") return reply(405, serviceError(405000, "method not allowed"));
      const problems = validate(body, "BulkEnrollmentOperation");
      const op = body as { mode: string; enrollments: Record<string, unknown>[] };
      if (problems.length === 0 && op.enrollments.length > 10) problems.push(`${op.enrollments.length} enrollments; at most 10 per bulk operation`);
      if (problems.length > 0) return reply(400, serviceError(400004, `Invalid bulk operation: ${problems.join("; ")}`));
      const errors: { registrationId: string; errorCode: number; errorStatus: string }[] = [];
      for (const e of op.enrollments) {
        const id = String(e.registrationId);
        const lower = id.toLowerCase();
        const fail = (errorCode: number, errorStatus: string) => errors.push({ registrationId: id, errorCode, errorStatus });
        const existing = enrollments.get(lower);
        if (op.mode === "delete") {
          if (!existing) fail(404201, "Enrollment not found");
          else enrollments.delete(lower);
          continue;
        }
        const pem = (e.attestation as { x509?: { clientCertificates?: { primary?: { certificate?: string } } } })?.x509?.clientCertificates?.primary?.certificate;
        const cn = pem ? commonName(pem) : undefined;
        if (!pem || cn === undefined) {
          fail(400004, "The certificate is not a valid X.509 certificate");
          continue;
        }
        if (cn.toLowerCase() !== lower) {
          fail(400004, `The registration ID must be the certificate's common name (${cn})`);
          continue;
        }
        // A certificate may appear in only one enrollment entry of a DPS instance.
        const thumb = createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");
        const holder = [...enrollments.entries()].find(([rid, s]) => rid !== lower && (s.body as { thumb?: string }).thumb === thumb);
        if (holder) {
          fail(409203, `The certificate is already used by enrollment ${holder[0]}`);
          continue;
        }
        if (op.mode === "create" && existing) {
          fail(409201, "Enrollment already exists");
          continue;
        }
        enrollments.set(lower, { etag: nextEtag(), body: { ...e, thumb }, created: existing?.created ?? new Date().toISOString() });
      }
      return reply(200, { isSuccessful: errors.length === 0, errors });
    }
    return reply(404, serviceError(404000, `no route for ${req.method} ${url.pathname}`));
  });
  const { port, agent } = loopback;
  (agent as unknown as { defaultPort: number }).defaultPort = port;
  fake = {
    hostName: "localhost",
    keyName,
    key,
    port,
    connectionString: `HostName=localhost;SharedAccessKeyName=${keyName};SharedAccessKey=${key}`,
    agent,
    certificate: loopback.certificate,
    requests: loopback.requests,
    groups,
    enrollments,
    close: loopback.close,
  };
  return fake;
}
