/**
 * The CA's small mutable state (configuration, CAs, operators): one lowdb JSON document, written
 * atomically and durably (lowdb's own adapter renames but never fsyncs). Every change re-reads the
 * file under the home lock, so two processes never overwrite each other's updates.
 */
import { readFile } from "node:fs/promises";
import { Low, type Adapter } from "lowdb";
import type { CaProfileName, KeyAlgorithm } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import { writeFileAtomic } from "./atomic.js";
import { checkStateShape } from "./state-shape.js";
import type { OperatorRecord, SessionRecord } from "../operators/model.js";
import type { StationRecord } from "../stations/stations.js";

export interface CaRecord {
  readonly name: string;
  readonly profile: CaProfileName;
  /** The parent CA's name; null for the self-signed root. */
  readonly parent: string | null;
  readonly keyUri: string;
  readonly keyAlgorithm: KeyAlgorithm;
  /** The CA certificate, PEM. */
  readonly certificate: string;
  readonly serial: string;
  readonly subject: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly createdAt: string;
}

export type { OperatorRecord, SessionRecord } from "../operators/model.js";

export interface HomeState {
  readonly format: "trustline-home/1";
  readonly organization: string;
  readonly baseUrl: string;
  /**
   * The arc under which this home mints its certificate-policy OIDs (`init --policy-arc`). Absent in
   * homes made before it existed: those keep the legacy 2.25 arc (policy/oids.ts).
   */
  readonly policyArc?: string;
  /**
   * The URI template of device certificates' subjectAltName, `{registration-id}` inside (`init
   * --device-san`; new homes: urn:<org-id>:device:{registration-id}). Absent: no subjectAltName.
   */
  readonly deviceUriTemplate?: string;
  readonly createdAt: string;
  /** scrypt parameters shared by the file-backend keys of this home (salt base64). */
  /** Where new CA keys are created (`init --key-store`): a key URI prefix; absent: `file:` (encrypted files in the home). */
  readonly keyStore?: string;
  readonly kdf: { readonly salt: string; readonly cost: number; readonly blockSize: number; readonly parallelization: number };
  /**
   * The key that signs the audit log's head, and its `audit-signer` certificate from the root (PEM;
   * absent in homes made before audit keys were certified: `trustline audit certify` adds it).
   */
  readonly auditKey: { readonly keyUri: string; readonly keyAlgorithm: KeyAlgorithm; readonly publicKey: string; readonly certificate?: string };
  readonly cas: Readonly<Record<string, CaRecord>>;
  readonly operators: Readonly<Record<string, OperatorRecord>>;
  /** Shift sessions (`trustline login`), by id; only each token's hash, sealed. */
  readonly sessions?: Readonly<Record<string, SessionRecord>>;
  /**
   * The home's data key (sealing TOTP seeds and token hashes), wrapped by a key-encryption key: the
   * passphrase (`file:passphrase`) or a key on the home's token or in its vault.
   */
  readonly dataKey?: { readonly wrapper: string; readonly wrapped: string };
  /** Where security events are POSTed as JSON (`trustline config set notify.url`). */
  readonly notify?: { readonly url: string };
  /** The last CRL number each CA issued (RFC 5280 §5.2.3: monotonically increasing). */
  readonly crlNumbers?: Readonly<Record<string, number>>;
  /** Each CA's current delegated OCSP responder. */
  readonly responders?: Readonly<Record<string, ResponderRecord>>;
  /** The key that signs auditor's reports and its `report-signer` certificate from the root (made on the first `report --sign`). */
  readonly reportSigner?: ServiceKeyRecord;
  /**
   * How far each DPS revocation mirror got in the revocation log, keyed "<target>|<ca>" (target
   * "files" for exported bodies, "dps:<host>" for a pushed-to DPS instance): the next export sends
   * only what changed after it.
   */
  readonly dpsMirrors?: Readonly<Record<string, DpsMirrorMark>>;
  /** Production-line stations enrolled for EST (`trustline station add`), by name. */
  readonly stations?: Readonly<Record<string, StationRecord>>;
  /** The EST server's TLS key (a file key in the home) and its `tls-server` certificate (`trustline ca issue-tls`). */
  readonly tlsServer?: TlsServerRecord;
}


export interface DpsMirrorMark {
  /** Byte offset in the revocation log up to which events were mirrored. */
  readonly offset: number;
  readonly at: string;
}

/** A key the home uses for itself, with the certificate one of its CAs issued for it. */
export interface ServiceKeyRecord {
  readonly keyUri: string;
  readonly keyAlgorithm: KeyAlgorithm;
  readonly certificate: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

/** The EST server's TLS key (always a `file:` key of the home: node's TLS needs the key itself) and its `tls-server` certificate. */
export interface TlsServerRecord extends ServiceKeyRecord {
  /** The hosts the certificate names (subjectAltName, in order; the first is the CN). */
  readonly hosts: readonly string[];
  /** The CA that issued it. */
  readonly ca: string;
}

export interface ResponderRecord extends ServiceKeyRecord {
  readonly ca: string;
}

class DurableJsonFile implements Adapter<HomeState> {
  constructor(private readonly path: string) {}

  async read(): Promise<HomeState | null> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new TrustlineError("STORE_CORRUPT", `the home's state file ${this.path} is not valid JSON; restore it from a backup`, { cause: e });
    }
    // Not a home at all (another format) is StateFile.read's to say; a home with damaged fields is here.
    return checkStateShape(value, this.path);
  }

  async write(data: HomeState): Promise<void> {
    writeFileAtomic(this.path, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  }
}

export class StateFile {
  readonly #db: Low<HomeState | null>;
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    this.#db = new Low<HomeState | null>(new DurableJsonFile(path) as unknown as Adapter<HomeState | null>, null);
  }

  async read(): Promise<HomeState> {
    await this.#db.read();
    const state = this.#db.data;
    if (state === null) throw new TrustlineError("CONFIG_INVALID", `no CA home at ${this.path}; run "trustline init" first`);
    if (typeof state !== "object" || state.format !== "trustline-home/1") throw new TrustlineError("CONFIG_INVALID", `${this.path} is not a Trustline home (format ${String(state.format)})`);
    return state;
  }

  /** Create the file; fails if it exists (caller checks under the lock). */
  async create(state: HomeState): Promise<void> {
    this.#db.data = state;
    await this.#db.write();
  }

  /** Read, change, write. Caller holds the home lock. */
  async update(change: (state: HomeState) => HomeState): Promise<HomeState> {
    const next = change(await this.read());
    this.#db.data = next;
    await this.#db.write();
    return next;
  }
}
