/**
 * The OCSP responder (RFC 6960): each CA answers through a delegated responder certificate it
 * issued itself (EKU OCSPSigning, id-pkix-ocsp-nocheck), renewed when a third of its life is left.
 * Status comes from the inventory (issued or not) and from the revocation log, which the responder
 * follows as it grows: a revocation is visible within a quarter of a second of being recorded.
 */
import { createHash } from "node:crypto";
import { REVOCATION_REASONS } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { caCertificateDer, getCa, spkiOfCa } from "../issue.js";
import { certifyNewServiceKey } from "../leaf-certificates.js";
import { SIGNATURE_ALGORITHMS, type Signer } from "../keys/signer.js";
import { derFromPemOrDer } from "../pem.js";
import { foldRevocations } from "../store/file-inventory.js";
import type { ResponderRecord } from "../store/state.js";
import type { RevocationEntry } from "../store/types.js";
import { spkiOfCertificate, subjectNameDer } from "../x509/cert-fields.js";
import { DerError } from "../x509/der.js";
import { subjectPublicKeyBits } from "../x509/keys.js";
import {
  CERT_ID_HASHES,
  encodeErrorResponse,
  encodeResponseData,
  encodeSingleResponse,
  encodeSuccessfulResponse,
  parseOcspRequest,
  type SingleStatus,
} from "./ocsp-codec.js";

/** How long a response says it is good for, and how long an identical one is served from cache. */
const RESPONSE_VALIDITY_MS = 3_600_000;
const CACHE_MS = 60_000;
/** Bytes of cached responses (keys included) one process keeps: a flood of distinct requests evicts, never grows. */
export const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;
/** Certificates one request may ask about (RFC 6960 sets no bound; a request for thousands is an attack). */
const MAX_CERT_IDS = 64;
const POLL_MS = 250;

/** Issue a responder certificate for every CA that has none, or whose responder has a third of its life left. */
export async function ensureResponders(home: Home): Promise<ResponderRecord[]> {
  const now = home.clock();
  const out: ResponderRecord[] = [];
  for (const ca of Object.values(home.state.cas)) {
    const current = home.state.responders?.[ca.name];
    if (current) {
      const life = Date.parse(current.notAfter) - Date.parse(current.notBefore);
      if (Date.parse(current.notAfter) - now.getTime() > life / 3 && Date.parse(current.notBefore) <= now.getTime()) {
        out.push(current);
        continue;
      }
    }
    const certified = await certifyNewServiceKey(home, { ca: ca.name, profile: "ocsp-responder", commonName: `${ca.name} OCSP responder`, label: `ocsp-${ca.name}-${now.getTime().toString(36)}` });
    const record: ResponderRecord = { ca: ca.name, ...certified.record };
    await home.transaction(async () => {
      await home.updateState((s) => ({ ...s, responders: { ...s.responders, [ca.name]: record } }));
      await home.record([{ action: "ocsp.responder", outcome: "ok", ...home.who, ca: ca.name, serial: record.serial, details: { replaced: current?.serial ?? null, notAfter: record.notAfter } }]);
    });
    out.push(record);
  }
  return out;
}

interface Identity {
  readonly ca: string;
  /** The responder certificate's serial (a renewal replaces the identity). */
  readonly serial: string;
  /** hash algorithm -> issuerNameHash / issuerKeyHash for this CA. */
  readonly nameHashes: ReadonlyMap<string, Buffer>;
  readonly keyHashes: ReadonlyMap<string, Buffer>;
  readonly signer: Signer;
  readonly certificate: Uint8Array;
  /** SHA-1 of the responder's public key: RFC 6960 §4.2.1 defines ResponderID byKey so. */
  readonly responderKeyHash: Uint8Array;
}

export class OcspResponder {
  readonly #home: Home;
  readonly #identities = new Map<string, Identity>();
  #revoked = new Map<string, RevocationEntry>();
  #logOffset = 0;
  #lastPoll = 0;
  #polling: Promise<void> | undefined;
  readonly #issued = new Map<string, { ca: string } | { missingUntil: number }>();
  /** Responses to requests without a nonce, oldest first (a Map keeps insertion order: eviction is O(1)). */
  readonly #cache = new Map<string, { der: Uint8Array; until: number }>();
  #cacheBytes = 0;
  /** The cache's bound in bytes (tests lower it). */
  cacheLimit = DEFAULT_CACHE_BYTES;
  /** Called when the revocation log changed (the server regenerates CRLs). */
  onRevocationsChanged: (() => void) | undefined;
  /** Called when the revocation log cannot be read while serving (the last good state is kept). */
  onLogDamaged: ((e: Error) => void) | undefined;

  private constructor(home: Home) {
    this.#home = home;
  }

  /** Open every CA's responder (issuing or renewing certificates as needed). Asks for the passphrase. */
  /**
   * Open every CA's responder. `renew: true` (the process that issues): issue or renew responder
   * certificates as needed. `renew: false` (a worker): use those recorded in the home's state.
   */
  static async open(home: Home, options: { renew?: boolean } = {}): Promise<OcspResponder> {
    const responder = new OcspResponder(home);
    await responder.loadIdentities(options.renew !== false);
    await responder.poll(true);
    return responder;
  }

  /**
   * Load (and with `renew`, first renew) the responder certificates. Servers call this hourly, so a
   * long-running responder moves to its next certificate before the current one expires.
   */
  async loadIdentities(renew: boolean): Promise<void> {
    const home = this.#home;
    const records = renew ? await ensureResponders(home) : Object.values((await home.refresh()).responders ?? {});
    for (const r of records) {
      if (this.#identities.get(r.ca)?.serial === r.serial) continue;
      const ca = getCa(home, r.ca);
      const name = subjectNameDer(caCertificateDer(ca));
      const key = subjectPublicKeyBits(spkiOfCa(ca));
      const nameHashes = new Map<string, Buffer>();
      const keyHashes = new Map<string, Buffer>();
      for (const hash of Object.values(CERT_ID_HASHES)) {
        nameHashes.set(hash, createHash(hash).update(name).digest());
        keyHashes.set(hash, createHash(hash).update(key).digest());
      }
      const certificate = derFromPemOrDer(Buffer.from(r.certificate), ["CERTIFICATE"]);
      if (!certificate) throw new TrustlineError("STORE_CORRUPT", `the OCSP responder certificate of CA "${r.ca}" in the state file is unreadable`);
      const signer = await home.keys.signer({ uri: r.keyUri, algorithm: r.keyAlgorithm, publicKey: spkiOfCertificate(certificate) });
      this.#identities.set(r.ca, {
        ca: r.ca,
        serial: r.serial,
        nameHashes,
        keyHashes,
        signer,
        certificate,
        responderKeyHash: createHash("sha1").update(subjectPublicKeyBits(signer.publicKey)).digest(),
      });
      this.#forgetAll();
    }
  }

  get cas(): string[] {
    return [...this.#identities.keys()];
  }

  /**
   * Follow the revocation log (at most every 250 ms unless forced); on change, drop cached
   * responses. One read at a time: requests arriving meanwhile wait for it.
   */
  poll(force = false): Promise<void> {
    const now = Date.now();
    if (!force && this.#polling) return this.#polling;
    if (!force && now - this.#lastPoll < POLL_MS) return Promise.resolve();
    this.#lastPoll = now;
    const run = this.#readLog(force).finally(() => {
      if (this.#polling === run) this.#polling = undefined;
    });
    this.#polling = run;
    return run;
  }

  /** Read the log now, not waiting out the poll's interval: the store said it grew (after a read already running). */
  async wake(): Promise<void> {
    await this.#polling;
    this.#lastPoll = 0;
    await this.poll();
  }

  async #readLog(force: boolean): Promise<void> {
    let events: { entries: RevocationEntry[]; next: number };
    try {
      events = await this.#home.inventory.revocationEventsSince(this.#logOffset);
    } catch (e) {
      // At start (force) a damaged log refuses to serve; later the last good state is kept and said.
      if (force) throw e;
      this.onLogDamaged?.(e as Error);
      return;
    }
    const { entries, next } = events;
    if (next < this.#logOffset) this.#revoked = new Map();
    this.#logOffset = next;
    if (entries.length > 0) {
      foldRevocations(entries, undefined, this.#revoked);
      this.#forgetAll();
      if (!force) this.onRevocationsChanged?.();
    }
  }

  /** The serial's current revocation (a hold included) as this responder follows the log; poll first for news. */
  revocationOf(serial: string): RevocationEntry | undefined {
    return this.#revoked.get(serial);
  }

  async #issuedBy(serial: string): Promise<string | undefined> {
    const known = this.#issued.get(serial);
    if (known && "ca" in known) return known.ca;
    if (known && known.missingUntil > Date.now()) return undefined;
    const record = await this.#home.inventory.getCertificate(serial);
    if (this.#issued.size > 100_000) this.#issued.clear(); // bound memory under a scan of random serials
    this.#issued.set(serial, record ? { ca: record.ca } : { missingUntil: Date.now() + 1000 });
    return record?.ca;
  }

  async #status(identity: Identity, serial: string): Promise<SingleStatus> {
    if ((await this.#issuedBy(serial)) !== identity.ca) return { status: "unknown" };
    const r = this.#revoked.get(serial);
    if (!r) return { status: "good" };
    return { status: "revoked", revokedAt: new Date(r.revokedAt), reasonCode: REVOCATION_REASONS[r.reason] };
  }

  /** An OCSPResponse (DER) for `requestDer`, asked of CA `caName`. Never throws on bad input. */
  async respond(caName: string, requestDer: Uint8Array): Promise<Uint8Array> {
    const identity = this.#identities.get(caName);
    if (!identity) return encodeErrorResponse("unauthorized");
    let request;
    try {
      request = parseOcspRequest(requestDer);
    } catch (e) {
      if (e instanceof DerError || e instanceof RangeError) return encodeErrorResponse("malformedRequest");
      throw e;
    }
    if (request.certIds.length > MAX_CERT_IDS) return encodeErrorResponse("malformedRequest");
    await this.poll();
    const cacheKey = request.nonce ? undefined : `${caName}:${request.certIds.map((c) => Buffer.from(c.der).toString("hex")).join(",")}`;
    const now = Date.now();
    if (cacheKey) {
      const hit = this.#cache.get(cacheKey);
      if (hit && hit.until > now) return hit.der;
    }
    const ours = (c: (typeof request.certIds)[number]) =>
      identity.nameHashes.get(c.hashAlgorithm)?.equals(c.issuerNameHash) === true && identity.keyHashes.get(c.hashAlgorithm)?.equals(c.issuerKeyHash) === true;
    if (!request.certIds.some(ours)) return encodeErrorResponse("unauthorized");
    const thisUpdate = new Date(Math.floor(now / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + RESPONSE_VALIDITY_MS);
    const singles: Uint8Array[] = [];
    for (const certId of request.certIds) {
      const status: SingleStatus = ours(certId) ? await this.#status(identity, certId.serial) : { status: "unknown" };
      singles.push(encodeSingleResponse({ certId, status, thisUpdate, nextUpdate }));
    }
    const data = encodeResponseData(identity.responderKeyHash, thisUpdate, singles, request.nonce);
    const signature = await identity.signer.sign(data);
    const der = encodeSuccessfulResponse(data, SIGNATURE_ALGORITHMS[identity.signer.algorithm].algorithmIdentifier, signature, [identity.certificate]);
    if (cacheKey) this.#remember(cacheKey, der, now + CACHE_MS);
    return der;
  }

  /** Bytes the response cache holds now. */
  get cacheBytes(): number {
    return this.#cacheBytes;
  }

  #remember(key: string, der: Uint8Array, until: number): void {
    const old = this.#cache.get(key);
    if (old) {
      this.#cache.delete(key);
      this.#cacheBytes -= key.length + old.der.length;
    }
    this.#cache.set(key, { der, until });
    this.#cacheBytes += key.length + der.length;
    for (const [oldest, entry] of this.#cache) {
      if (this.#cacheBytes <= this.cacheLimit) break;
      this.#cache.delete(oldest);
      this.#cacheBytes -= oldest.length + entry.der.length;
    }
  }

  #forgetAll(): void {
    this.#cache.clear();
    this.#cacheBytes = 0;
  }

}

