/**
 * PKCS#11 URIs (RFC 7512) as Trustline uses them: a key `pkcs11:token=<label>;object=<label>;id=<%xx>`
 * (`type=private` for a signing key, `type=secret-key` for the AES key that wraps a home's data
 * key) and a store (where new keys are made) `pkcs11:token=<label>`. Path attributes are separated by
 * `;`, query attributes follow `?` and are separated by `&`; values are percent-encoded.
 */
import { TrustlineError } from "../../errors.js";

export interface Pkcs11Uri {
  readonly token: string;
  readonly object?: string;
  readonly id?: Uint8Array;
  /**
   * `type=secret-key`: an AES key-encryption key (the one that wraps the home's data key). Absent:
   * a private key (`type=private`, or no type), what CA keys are.
   */
  readonly type?: "secret-key";
  /** Query attribute `module-path`: the PKCS#11 module (else TRUSTLINE_PKCS11_MODULE). */
  readonly modulePath?: string;
  /** Query attribute `pin-source=file:<path>`: a file holding the user PIN. */
  readonly pinFile?: string;
}

const PATH_ATTRIBUTES = new Set(["token", "object", "id", "type", "manufacturer", "model", "serial", "library-manufacturer", "library-description", "library-version", "slot-id", "slot-description", "slot-manufacturer"]);
const QUERY_ATTRIBUTES = new Set(["module-path", "module-name", "pin-source", "pin-value"]);
/** RFC 7512's pk11-pchar / pk11-qchar, unreserved and the sub-delims it allows, or a %XX escape. */
const P_VALUE = /^(?:[A-Za-z0-9\-._~:[\]@!$'()*+,=&]|%[0-9A-Fa-f]{2})*$/;
const Q_VALUE = /^(?:[A-Za-z0-9\-._~:[\]@!$'()*+,=/?|;]|%[0-9A-Fa-f]{2})*$/;

function bad(uri: string, why: string): TrustlineError {
  const shown = uri.replace(/(pin-value=)[^&]*/g, "$1…").slice(0, 100).replace(/[\u0000-\u001f\u007f]/g, "?");
  return new TrustlineError("USAGE", `"${shown}" is not a usable PKCS#11 URI (RFC 7512): ${why}; e.g. pkcs11:token=ca-token;object=device-ca`);
}

function decode(uri: string, value: string, utf8: boolean): Uint8Array | string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === "%") {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(value.charCodeAt(i));
  }
  const buffer = Buffer.from(bytes);
  if (!utf8) return new Uint8Array(buffer);
  const text = buffer.toString("utf8");
  if (!Buffer.from(text, "utf8").equals(buffer)) throw bad(uri, "a label is not valid UTF-8");
  return text;
}

export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (uri.length > 2048) throw bad(uri, "longer than 2048 characters");
  if (!uri.startsWith("pkcs11:")) throw bad(uri, "it does not start with pkcs11:");
  const rest = uri.slice("pkcs11:".length);
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? "" : rest.slice(q + 1);
  const attributes = new Map<string, string>();
  for (const part of path === "" ? [] : path.split(";")) {
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? "" : part.slice(eq + 1);
    if (eq < 0 || !PATH_ATTRIBUTES.has(name)) throw bad(uri, `unknown path attribute "${name.slice(0, 30)}"`);
    if (attributes.has(name)) throw bad(uri, `"${name}" is given twice`);
    if (!P_VALUE.test(value)) throw bad(uri, `the value of "${name}" has characters that must be percent-encoded`);
    attributes.set(name, value);
  }
  const queries = new Map<string, string>();
  for (const part of query === "" ? [] : query.split("&")) {
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 || !QUERY_ATTRIBUTES.has(name)) throw bad(uri, `unknown query attribute "${name.slice(0, 30)}"`);
    if (queries.has(name)) throw bad(uri, `"${name}" is given twice`);
    const value = part.slice(eq + 1);
    if (!Q_VALUE.test(value)) throw bad(uri, `the value of "${name}" has characters that must be percent-encoded`);
    queries.set(name, value);
  }
  // A PIN written into a key URI would be copied into state.json and the audit log.
  if (queries.has("pin-value")) throw bad(uri, "pin-value would store the PIN in the CA home and its audit log; give it with TRUSTLINE_PKCS11_PIN, TRUSTLINE_PKCS11_PIN_FILE or pin-source=file:<path>");
  if (queries.has("module-name")) throw bad(uri, "module-name is not supported; give module-path or TRUSTLINE_PKCS11_MODULE");
  const type = attributes.get("type");
  if (type !== undefined && type !== "private" && type !== "secret-key") throw bad(uri, `type=${type.slice(0, 20)}: Trustline signs with private keys (type=private) and wraps with secret keys (type=secret-key)`);
  for (const name of ["manufacturer", "model", "serial", "library-manufacturer", "library-description", "library-version", "slot-id", "slot-description", "slot-manufacturer"]) {
    if (attributes.has(name)) throw bad(uri, `"${name}" is not supported: name the token by its label (token=)`);
  }
  const token = attributes.get("token");
  if (token === undefined || token === "") throw bad(uri, "no token= label");
  const pinSource = queries.get("pin-source");
  let pinFile: string | undefined;
  if (pinSource !== undefined) {
    const source = decode(uri, pinSource, true) as string;
    if (!source.startsWith("file:") || source.length === 5) throw bad(uri, "pin-source must be file:<path>");
    pinFile = source.startsWith("file://") ? source.slice("file://".length) : source.slice("file:".length);
  }
  const object = attributes.get("object");
  const id = attributes.get("id");
  const modulePath = queries.get("module-path");
  return {
    token: decode(uri, token, true) as string,
    ...(object !== undefined ? { object: decode(uri, object, true) as string } : {}),
    ...(id !== undefined ? { id: decode(uri, id, false) as Uint8Array } : {}),
    ...(type === "secret-key" ? { type } : {}),
    ...(modulePath !== undefined ? { modulePath: decode(uri, modulePath, true) as string } : {}),
    ...(pinFile !== undefined ? { pinFile } : {}),
  };
}

/** Percent-encode a value for a path attribute (everything outside the unreserved set). */
function encode(value: string | Uint8Array): string {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
  let out = "";
  for (const b of bytes) out += /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, "0")}`;
  return out;
}

/**
 * The URI of one key, keeping the store's query attributes (module path, PIN source): a signing
 * key (type=private) or a key-encryption key (type=secret-key).
 */
export function formatKeyUri(store: Pkcs11Uri, object: string, id: Uint8Array, type: "private" | "secret-key" = "private"): string {
  const query = [
    ...(store.modulePath !== undefined ? [`module-path=${encode(store.modulePath).replace(/%2f/gi, "/")}`] : []),
    ...(store.pinFile !== undefined ? [`pin-source=file:${encode(store.pinFile).replace(/%2f/gi, "/")}`] : []),
  ];
  return `pkcs11:token=${encode(store.token)};object=${encode(object)};id=${[...id].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("")};type=${type}${query.length ? `?${query.join("&")}` : ""}`;
}
