/**
 * The DPS data plane through Azure's own Node client, `azure-iot-provisioning-service` (1.11.2):
 * SAS authentication from a connection string, api-version 2021-10-01, the paths and bodies the
 * service expects. Built with the client's public constructor and an explicit RestApiClient (what
 * `fromConnectionString` does inside), so that a transport can be given: an endpoint other than
 * HostName (a private endpoint, a proxy, a test server) and extra trusted roots.
 *
 * Pitfalls of 1.11.2 handled here: the Promise form of runBulkEnrollmentOperation never settles
 * (the callback form is used), and `HostName=host:port` does not reach the port (an agent carries it).
 */
import { lookup as dnsLookup } from "node:dns";
import { Agent as HttpsAgent } from "node:https";
import { rootCertificates } from "node:tls";
import { TrustlineError } from "../errors.js";
import type { BulkEnrollmentOperation, BulkEnrollmentOperationResult, EnrollmentGroup } from "./model.js";
import { remoteError, Secrets } from "./remote-errors.js";

export interface DpsConnection {
  readonly hostName: string;
  readonly keyName: string;
  /** The shared access key (base64). Never printed. */
  readonly key: string;
}

/** Parse "HostName=...;SharedAccessKeyName=...;SharedAccessKey=..."; messages never echo the key. */
export function parseConnectionString(text: string): DpsConnection {
  const fields = new Map<string, string>();
  for (const part of text.trim().split(";")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw new TrustlineError("INPUT_INVALID", "the DPS connection string is not a list of Name=value fields separated by ';'");
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const hostName = fields.get("hostname");
  const keyName = fields.get("sharedaccesskeyname");
  const key = fields.get("sharedaccesskey");
  const missing = [!hostName && "HostName", !keyName && "SharedAccessKeyName", !key && "SharedAccessKey"].filter(Boolean);
  if (missing.length > 0) throw new TrustlineError("INPUT_INVALID", `the DPS connection string has no ${missing.join(", ")} (copy it from the DPS instance's Shared access policies)`);
  if (!/^[A-Za-z0-9.-]+$/.test(hostName!)) throw new TrustlineError("INPUT_INVALID", `the connection string's HostName "${hostName!.slice(0, 80)}" is not a host name (a port cannot be given there; use an endpoint instead)`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key!) || Buffer.from(key!, "base64").length < 16) throw new TrustlineError("INPUT_INVALID", "the connection string's SharedAccessKey is not a base64 key");
  return { hostName: hostName!, keyName: keyName!, key: key! };
}

export interface DpsTransport {
  /** Connect here ("host" or "host:port") instead of HostName; the SAS and the TLS name stay HostName's. */
  readonly endpoint?: string;
  /** Extra trusted root certificates (PEM), on top of the system's. */
  readonly trustedCa?: string;
  /** A ready agent (tests): used as is. */
  readonly agent?: HttpsAgent;
}

function agentFor(transport: DpsTransport): HttpsAgent | undefined {
  if (transport.agent) return transport.agent;
  if (!transport.endpoint && !transport.trustedCa) return undefined;
  let host: string | undefined;
  let port = 443;
  if (transport.endpoint) {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(transport.endpoint);
    if (!m) throw new TrustlineError("USAGE", `the DPS endpoint "${transport.endpoint.slice(0, 80)}" is not host or host:port`);
    host = m[1]!.replace(/^\[|\]$/g, "");
    if (m[2]) port = Number(m[2]);
  }
  const agent = new HttpsAgent({
    keepAlive: false,
    ...(transport.trustedCa ? { ca: [...rootCertificates, transport.trustedCa] } : {}),
    // The request still names HostName (TLS server name, Host header); only the address changes.
    ...(host ? { lookup: ((_name: string, options: object, callback: (...args: unknown[]) => void) => dnsLookup(host!, options, callback as never)) as never } : {}),
  });
  (agent as unknown as { defaultPort: number }).defaultPort = port;
  return agent;
}

type Callback<T> = (err: Error | null | undefined, result?: T, response?: unknown) => void;

interface ServiceClient {
  getEnrollmentGroup(id: string, cb: Callback<EnrollmentGroup>): void;
  createOrUpdateEnrollmentGroup(group: EnrollmentGroup, cb: Callback<EnrollmentGroup>): void;
  runBulkEnrollmentOperation(op: BulkEnrollmentOperation, cb: Callback<BulkEnrollmentOperationResult>): void;
}

/** A DPS data-plane session: the official client, and the secrets to keep out of messages. */
export class DpsService {
  readonly hostName: string;
  readonly secrets = new Secrets();
  readonly #client: ServiceClient;

  private constructor(hostName: string, client: ServiceClient) {
    this.hostName = hostName;
    this.#client = client;
  }

  static async connect(connectionString: string, transport: DpsTransport = {}): Promise<DpsService> {
    const conn = parseConnectionString(connectionString);
    // CommonJS packages, loaded only when DPS is used.
    const [{ default: service }, { default: common }, { default: httpBase }] = await Promise.all([
      import("azure-iot-provisioning-service"),
      import("azure-iot-common"),
      import("azure-iot-http-base"),
    ]);
    // The same config fromConnectionString builds. (http-base pins its own azure-iot-common: same class shape.)
    const config = { host: conn.hostName, sharedAccessSignature: common.SharedAccessSignature.create(conn.hostName, conn.keyName, conn.key, common.anHourFromNow()) } as never;
    const rest = new httpBase.RestApiClient(config, "trustline (azure-iot-provisioning-service/1.11.2)");
    const agent = agentFor(transport);
    if (agent) rest.setOptions({ http: { agent } });
    const dps = new DpsService(conn.hostName, new service.ProvisioningServiceClient(config, rest) as unknown as ServiceClient);
    dps.secrets.add(conn.key);
    return dps;
  }

  #call<T>(what: string, run: (cb: Callback<T>) => void): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      try {
        run((err, result) => (err ? reject(remoteError(err, what, "DPS", this.secrets)) : resolve(result)));
      } catch (e) {
        reject(remoteError(e, what, "DPS", this.secrets));
      }
    });
  }

  /** The group as DPS holds it, or undefined when there is none. */
  async getEnrollmentGroup(id: string): Promise<EnrollmentGroup | undefined> {
    try {
      return await this.#call<EnrollmentGroup>(`reading enrollment group ${id} from DPS ${this.hostName}`, (cb) => this.#client.getEnrollmentGroup(id, cb));
    } catch (e) {
      if (e instanceof TrustlineError && e.details.httpStatus === 404) return undefined;
      throw e;
    }
  }

  /** PUT the group; an etag on it becomes If-Match (DPS answers 409 for an existing group without one). */
  async putEnrollmentGroup(group: EnrollmentGroup): Promise<EnrollmentGroup | undefined> {
    return this.#call<EnrollmentGroup>(`${group.etag ? "updating" : "creating"} enrollment group ${group.enrollmentGroupId} in DPS ${this.hostName}`, (cb) => this.#client.createOrUpdateEnrollmentGroup(group, cb));
  }

  /** POST /enrollments with the callback form (the Promise form of 1.11.2 never settles). */
  async bulk(op: BulkEnrollmentOperation): Promise<BulkEnrollmentOperationResult> {
    const result = await this.#call<BulkEnrollmentOperationResult>(`bulk ${op.mode} of ${op.enrollments.length} enrollments in DPS ${this.hostName}`, (cb) => this.#client.runBulkEnrollmentOperation(op, cb));
    if (!result || typeof result.isSuccessful !== "boolean") {
      throw new TrustlineError("REMOTE_REJECTED", `DPS ${this.hostName} answered the bulk ${op.mode} with no result`, { details: { operation: "bulk" } });
    }
    return result;
  }
}
