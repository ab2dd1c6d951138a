/**
 * Errors from Azure's clients (the DPS service client and the ARM client), turned into
 * TrustlineErrors a person can act on. Secrets never reach a message: every text that could echo a
 * request (the SAS token, a bearer token, the shared access key) goes through `redact` first.
 */
import { TrustlineError } from "../errors.js";

/** Remembers the secrets in play so any message can be scrubbed of them. */
export class Secrets {
  readonly #values = new Set<string>();

  add(value: string | undefined): void {
    if (value && value.length >= 4) {
      this.#values.add(value);
      this.#values.add(encodeURIComponent(value));
    }
  }

  redact(text: string): string {
    let out = text
      .replace(/SharedAccessSignature\s+[^\s"',;]+/gi, "SharedAccessSignature [redacted]")
      .replace(/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, "Bearer [redacted]")
      .replace(/\b(sig|SharedAccessKey)=[^&\s;"']+/gi, "$1=[redacted]");
    for (const v of this.#values) out = out.split(v).join("[redacted]");
    return out;
  }
}

interface RemoteFailure {
  readonly status?: number;
  readonly code?: string;
  readonly serviceMessage?: string;
  readonly serviceCode?: string | number;
  readonly trackingId?: string;
}

function parseBody(body: unknown): Pick<RemoteFailure, "serviceMessage" | "serviceCode" | "trackingId"> {
  let doc: unknown = body;
  if (typeof body === "string") {
    try {
      doc = JSON.parse(body);
    } catch {
      return body.trim().length > 0 ? { serviceMessage: body.trim().slice(0, 300) } : {};
    }
  }
  if (typeof doc !== "object" || doc === null) return {};
  const d = doc as Record<string, unknown>;
  // DPS: {errorCode, trackingId, message}; ARM: {error: {code, message}}
  const inner = typeof d.error === "object" && d.error !== null ? (d.error as Record<string, unknown>) : d;
  const message = inner.message ?? inner.Message;
  const code = inner.code ?? inner.errorCode;
  return {
    ...(typeof message === "string" ? { serviceMessage: message.slice(0, 300) } : {}),
    ...(typeof code === "string" || typeof code === "number" ? { serviceCode: code } : {}),
    ...(typeof d.trackingId === "string" ? { trackingId: d.trackingId } : {}),
  };
}

/** What an error from either client says (status, service message), whatever its shape. */
export function describeRemoteFailure(e: unknown): RemoteFailure {
  const err = e as { response?: { statusCode?: number; status?: number }; responseBody?: unknown; statusCode?: number; code?: string; details?: unknown; message?: string };
  const status = err?.response?.statusCode ?? err?.statusCode ?? (typeof err?.response?.status === "number" ? err.response.status : undefined);
  const fromBody = err?.responseBody !== undefined ? parseBody(err.responseBody) : err?.details !== undefined ? parseBody(err.details) : {};
  const serviceMessage = fromBody.serviceMessage ?? (status !== undefined && typeof err?.message === "string" ? err.message.slice(0, 300) : undefined);
  return {
    ...(status !== undefined ? { status } : {}),
    ...(typeof err?.code === "string" ? { code: err.code } : {}),
    ...fromBody,
    ...(serviceMessage !== undefined ? { serviceMessage } : {}),
  };
}

/**
 * The TrustlineError for a failed remote call. `what` says what was being done ("creating
 * enrollment group line-7 in DPS my-dps"); `service` names the service in hints.
 */
export function remoteError(e: unknown, what: string, service: "DPS" | "ARM", secrets: Secrets): TrustlineError {
  const f = describeRemoteFailure(e);
  const said = f.serviceMessage ? `: ${secrets.redact(f.serviceMessage)}` : "";
  const details = {
    operation: what,
    ...(f.status !== undefined ? { httpStatus: f.status } : {}),
    ...(f.serviceCode !== undefined ? { serviceCode: f.serviceCode } : {}),
    ...(f.trackingId !== undefined ? { trackingId: f.trackingId } : {}),
    ...(f.code !== undefined && f.status === undefined ? { networkError: f.code } : {}),
  };
  const s = f.status;
  const name = (e as { name?: unknown })?.name;
  if (s === undefined && typeof name === "string" && /Credential|Authentication/.test(name)) {
    const raw = e instanceof Error ? e.message.split("\n")[0]!.slice(0, 300) : "";
    return new TrustlineError("AUTH_REQUIRED", secrets.redact(`${what} failed: no Azure credential could get a token (sign in with az login, use a managed identity, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and a secret or certificate): ${raw}`), { details: { ...details, credentialError: name } });
  }
  let code: TrustlineError["code"];
  let hint: string;
  if (s === 401 || s === 403) {
    code = "AUTH_REQUIRED";
    hint =
      service === "DPS"
        ? "the service refused the credentials: check that the connection string is current and its shared access policy has Enrollment Write"
        : "Azure refused the credentials: sign in (az login, a managed identity or AZURE_* service-principal variables) with a role that may write the DPS instance's certificates";
  } else if (s === 412 || s === 409) {
    code = "STORE_CONFLICT";
    hint = s === 412 ? "etag conflict: the record changed in Azure since it was read (someone else is writing it); run the command again" : "the record already exists in Azure and was created concurrently; run the command again";
  } else if (s === 429 || (s !== undefined && s >= 500)) {
    code = "REMOTE_UNAVAILABLE";
    hint = s === 429 ? "the service is throttling requests; wait a minute and run the command again" : "the service failed; run the command again later";
  } else if (s !== undefined) {
    code = "REMOTE_REJECTED";
    hint = "the service refused the request";
  } else {
    code = "REMOTE_UNAVAILABLE";
    hint = `could not reach ${service === "DPS" ? "the DPS instance" : "Azure Resource Manager"}${f.code ? ` (${f.code})` : ""}: check the host name, the network and TLS trust`;
    const raw = e instanceof Error ? e.message : String(e);
    return new TrustlineError(code, secrets.redact(`${what} failed: ${hint}: ${raw.slice(0, 300)}`), { details });
  }
  return new TrustlineError(code, secrets.redact(`${what} failed (HTTP ${s}): ${hint}${said}`), { details });
}
