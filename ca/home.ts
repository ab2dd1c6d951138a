/**
 * A CA home: the directory holding one CA hierarchy's state. Opening a home wires the pieces
 * (state file, key backend, certificate inventory, audit log, lock) and reads only the small state
 * file: never the inventory.
 *
 *   <home>/state.json        configuration, CAs, operators (lowdb)
 *   <home>/keys/             encrypted CA and audit keys (file key backend)
 *   <home>/inventory/        issued certificates (append-only segments + index)
 *   <home>/audit/            hash-chained audit log and its signed head
 *   <home>/.lock             held while writing
 *
 * A home on PostgreSQL (`init --store postgres://...`) keeps state, inventory and audit log in the
 * database (ca/store/postgres/) and only store.json (and file-backed keys) in the folder; the
 * HomeStorage seam (ca/store/home-storage.ts) is all the rest of the code sees of either.
 */
import { userInfo } from "node:os";
import { resolve } from "node:path";
import { isTrustlineError, TrustlineError } from "./errors.js";
import { AuditLog, type AuditEvent } from "./audit/log.js";
import type { PassphraseSource } from "./keys/backend.js";
import { DEFAULT_KEY_STORE, KeyBackends } from "./keys/registry.js";
import type { Signer } from "./keys/signer.js";
import { embeddedStorage, type HomeStorage, type Inventory, openHomeStorage, type StateStore } from "./store/home-storage.js";
import type { HomeState } from "./store/state.js";
import { LEGACY_TRUSTLINE_ARC } from "../policy/index.js";
import { WebhookNotifier } from "./notify/webhook.js";
import { authenticate, type Credential } from "./operators/authenticate.js";
import { openDataKey } from "./operators/data-key.js";
import { enforcesSignIn, type Principal, traceOf, type TraceFields } from "./operators/model.js";
import { allows, rolesAllowing, type WriteAction } from "./operators/roles.js";

export type Clock = () => Date;

/** The library's own way to set who acts (init, a new session); not exported by ca/index.ts. */
export const ASSUME_PRINCIPAL = Symbol("trustline.assumePrincipal");

/** Who is acting and where: recorded with every certificate and audit entry. */
export interface Actor {
  readonly operator: string;
  readonly station: string;
}

export interface HomeOptions {
  /** The home directory (CLI: --home, TRUSTLINE_HOME, default ./pki). */
  readonly home: string;
  /** Asked only when a private key must be opened. */
  readonly passphrase?: PassphraseSource;
  readonly clock?: Clock;
  readonly operator?: string;
  readonly station?: string;
  /** Where remote key backends read their configuration (PKCS#11 module and PIN, Azure token file); default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * How this caller proves who is acting, asked at the first write (a function may prompt for a
   * code). Not needed in a home with no enrolled operator (one made before sign-in existed).
   */
  readonly credential?: Credential | (() => Promise<Credential | undefined>);
  /** Warnings for a person (a home with no enrolled admin, a webhook that did not answer); default none. */
  readonly warn?: (message: string) => void;
}

let osUserName: string | undefined;

/** The OS user running this process (read once: a service makes a Home per request). */
function osUser(): string {
  if (osUserName === undefined) {
    try {
      osUserName = userInfo().username;
    } catch {
      osUserName = "unknown"; // no passwd entry (containers)
    }
  }
  return osUserName;
}

export function defaultActor(options: Pick<HomeOptions, "operator" | "station">): Actor {
  for (const [name, value] of [["--operator", options.operator], ["--station", options.station]] as const) {
    // Both end up in every record, audit entry, report and CSV row: one printable line, bounded.
    if (value && (value.length > 64 || /[\u0000-\u001f\u007f-\u009f]/.test(value))) throw new TrustlineError("USAGE", `${name} is at most 64 characters, with no control characters`);
  }
  return { operator: options.operator || osUser(), station: options.station || "unspecified" };
}

export const noPassphrase: PassphraseSource = async () => {
  throw new TrustlineError("PASSPHRASE_REQUIRED", "this operation opens a CA key: give the passphrase with --passphrase-file, TRUSTLINE_PASSPHRASE or on a terminal");
};

export class Home {
  readonly dir: string;
  readonly clock: Clock;
  readonly actor: Actor;
  readonly storage: HomeStorage;
  readonly stateStore: StateStore;
  readonly inventory: Inventory;
  readonly audit: AuditLog;
  readonly passphrase: PassphraseSource;
  readonly env: NodeJS.ProcessEnv;
  #state: HomeState | undefined;
  #keys: KeyBackends | undefined;
  #auditSigner: Promise<Signer> | undefined;
  #credential: HomeOptions["credential"];
  readonly #warn: (message: string) => void;
  /** The operator --operator named, if any (a session or token of someone else is refused). */
  readonly claimedOperator: string | undefined;
  /** The station --station named, if any (it outranks the station a session was opened at). */
  readonly claimedStation: string | undefined;
  #signingIn: Promise<Principal> | undefined;
  #principal: Principal | undefined;
  #dataKey: Promise<Buffer> | undefined;
  #notifier: WebhookNotifier | undefined;
  #warnedUnenforced = false;
  /** The long-lived Home a request Home was made from (forRequest): it owns the webhook notifier. */
  #parent: Home | undefined;
  /** A shift session opened at another station is refused (a request Home of the EST service). */
  readonly boundStation: string | undefined;

  private constructor(options: HomeOptions, storage?: HomeStorage, boundStation?: string) {
    this.dir = resolve(options.home);
    this.clock = options.clock ?? (() => new Date());
    this.actor = defaultActor(options);
    this.passphrase = memoize(options.passphrase ?? noPassphrase);
    this.env = options.env ?? process.env;
    this.storage = storage ?? embeddedStorage(this.dir);
    this.stateStore = this.storage.state;
    this.inventory = this.storage.inventory;
    this.audit = new AuditLog(this.storage.audit, this.clock);
    this.#credential = options.credential;
    this.#warn = options.warn ?? (() => undefined);
    this.claimedOperator = options.operator || undefined;
    this.claimedStation = options.station || undefined;
    this.boundStation = boundStation;
  }

  /** A Home object for a directory that may not be initialised yet (used by init): embedded storage unless given. */
  static at(options: HomeOptions, storage?: HomeStorage): Home {
    return new Home(options, storage);
  }

  /** Open an initialised home: reads its state only (state.json, or the database store.json names). */
  static async open(options: HomeOptions): Promise<Home> {
    const storage = await openHomeStorage(resolve(options.home), options.env ?? process.env);
    const home = new Home(options, storage);
    try {
      home.#state = await home.stateStore.read();
    } catch (e) {
      await storage.close().catch(() => undefined);
      throw e;
    }
    return home;
  }

  /**
   * A Home for one request of a long-running service (the EST server): the same storage, state,
   * key backends, audit signer and data key (opened once by this Home), with its own actor and
   * credential, so that each request is signed in, authorized and traced on its own. Its session
   * must have been opened at `station`. Never closed: this Home owns what it shares.
   */
  forRequest(o: { station: string; credential: Credential }): Home {
    const h = new Home({ home: this.dir, clock: this.clock, station: o.station, passphrase: this.passphrase, env: this.env, credential: o.credential, warn: this.#warn }, this.storage, o.station);
    h.#state = this.#state;
    h.#keys = this.keys;
    h.#auditSigner = this.#auditSigner;
    h.#dataKey = this.#dataKey;
    h.#parent = this.#parent ?? this;
    return h;
  }

  get state(): HomeState {
    if (!this.#state) throw new TrustlineError("CONFIG_INVALID", `the home at ${this.dir} is not open`);
    return this.#state;
  }

  /** The arc of this home's certificate-policy OIDs (homes made before `--policy-arc`: the legacy arc). */
  get policyArc(): string {
    return this.state.policyArc ?? LEGACY_TRUSTLINE_ARC;
  }

  /** Re-read the state (after another process may have changed it). */
  async refresh(): Promise<HomeState> {
    this.#state = await this.stateStore.read();
    return this.#state;
  }

  /** Update state.json under the lock the caller holds. */
  async updateState(change: (s: HomeState) => HomeState): Promise<HomeState> {
    this.#state = await this.stateStore.update(change);
    return this.#state;
  }

  setState(state: HomeState): void {
    this.#state = state;
  }

  /** Every key backend, chosen by each key's URI scheme (files in the home, Key Vault, PKCS#11). */
  get keys(): KeyBackends {
    if (!this.#keys) {
      const kdf = this.state.kdf;
      this.#keys = new KeyBackends({ homeDir: this.dir, passphrase: this.passphrase, kdf: { ...kdf, salt: Buffer.from(kdf.salt, "base64") }, env: this.env });
    }
    return this.#keys;
  }

  /** Where new CA keys are created unless a command says otherwise (`init --key-store`; default files in the home). */
  get keyStore(): string {
    return this.state.keyStore ?? DEFAULT_KEY_STORE;
  }

  /**
   * Release the key backends' sessions and connections (HSM sessions, vault clients), after
   * waiting (at most 2 s) for security events still being delivered to the webhook.
   */
  async close(): Promise<void> {
    const notifier = this.#notifier;
    this.#notifier = undefined;
    if (notifier) {
      const report = await notifier.settle(2_000);
      if (report.failed + report.pending > 0) this.#warn(`the security-event webhook did not take ${report.failed + report.pending} event(s) (${report.problems.join("; ") || "still no answer"}); they are in the audit log`);
    }
    const keys = this.#keys;
    this.#keys = undefined;
    this.#auditSigner = undefined; // its session or client goes with the backends
    this.#dataKey = undefined;
    await keys?.close();
    await this.storage.close();
  }

  /**
   * Check that the acting operator may do `action`: sign in once (the credential), then ask the
   * roles table. FORBIDDEN is audited and changes nothing else. A home with no enrolled operator
   * lets every write through, with a warning, until its first admin is enrolled.
   */
  async authorize(action: WriteAction): Promise<Principal> {
    const principal = await this.signIn();
    if (principal.origin === "unauthenticated") {
      if (!this.#warnedUnenforced) this.#warn("this home has no enrolled admin, so nobody's sign-in is checked: enrol one with `trustline operator add <id> --role admin`");
      this.#warnedUnenforced = true;
      return principal;
    }
    if (!allows(principal.roles, action)) {
      const needs = rolesAllowing(action);
      await this.transaction(() => this.record([{ action: "auth.forbidden", outcome: "rejected", ...traceOf(principal), reason: action, details: { roles: [...principal.roles], needs } }]));
      throw new TrustlineError("FORBIDDEN", `${principal.operator} (${principal.roles.join(", ") || "no role"}) may not ${action}: it needs the ${needs.join(" or ")} role`, {
        details: { action, operator: principal.operator, roles: [...principal.roles], needs },
      });
    }
    return principal;
  }

  /** Check the credential once (AUTH_FAILED, audited, when refused): who is acting. */
  signIn(): Promise<Principal> {
    if (!this.#signingIn) {
      this.#signingIn = (async () => {
        const source = this.#credential;
        const credential = typeof source === "function" ? (enforcesSignIn(this.state.operators) ? await source() : undefined) : source;
        let principal: Principal;
        try {
          principal = await authenticate(this, credential);
        } catch (e) {
          // A wrong passphrase (it opens the data key) is worth an entry: it is how guessing shows up.
          if (passphraseNotAccepted(e) && (e as TrustlineError).details.reason === "wrong-passphrase") {
            await this.transaction(() => this.record([{ action: "auth.fail", outcome: "rejected", operator: this.actor.operator, station: this.actor.station, reason: "wrong-passphrase" }], { sign: false }));
          }
          throw e;
        }
        this.#principal = principal;
        return principal;
      })();
      this.#signingIn.catch(() => (this.#signingIn = undefined));
    }
    return this.#signingIn;
  }

  /** Use `credential` from now on (before the first sign-in). */
  useCredential(credential: Credential): void {
    this.#credential = credential;
    this.#signingIn = undefined;
    this.#principal = undefined;
  }

  /**
   * Act as `principal` without signing in again: `init` (the first admin) and a session just
   * opened. Keyed by a symbol that ca/index.ts does not export, so it is not part of the API.
   */
  [ASSUME_PRINCIPAL](principal: Principal): void {
    this.#principal = principal;
    this.#signingIn = Promise.resolve(principal);
  }

  /** The signed-in principal, once a write authorised it. */
  get principal(): Principal | undefined {
    return this.#principal;
  }

  /** The home's data key (sealing TOTP seeds and token hashes), unwrapped once. */
  dataKey(): Promise<Buffer> {
    const record = this.state.dataKey;
    if (!record) return Promise.reject(new TrustlineError("CONFIG_INVALID", "this home has no data key yet: enrol its first admin with `trustline operator add <id> --role admin`"));
    if (!this.#dataKey) {
      this.#dataKey = openDataKey(this.keys, record);
      this.#dataKey.catch(() => (this.#dataKey = undefined));
    }
    return this.#dataKey;
  }

  /** Use `key` as the data key (just created, under the lock). */
  adoptDataKey(key: Buffer): void {
    this.#dataKey = Promise.resolve(key);
  }

  /** Raise a security event: POSTed to `notify.url` when one is configured (never waits). */
  securityEvent(event: string, details: Record<string, unknown>): void {
    const url = this.#state?.notify?.url;
    if (!url) return;
    const owner = this.#parent ?? this;
    owner.#notifier ??= new WebhookNotifier(url);
    const p = this.#principal;
    owner.#notifier.send({ event, time: this.clock().toISOString(), organization: this.state.organization, operator: p?.operator ?? this.actor.operator, station: p?.station ?? this.actor.station, details });
  }

  /**
   * Run `fn` holding the home's exclusive write lock. A disk that refuses a write (full, I/O error,
   * read-only) is STORE_UNAVAILABLE naming the home, not an internal error.
   */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.storage.lock(fn);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!isTrustlineError(e) && code !== undefined && DISK_REFUSALS.has(code)) {
        const path = (e as NodeJS.ErrnoException).path ?? this.dir;
        throw new TrustlineError("STORE_UNAVAILABLE", `the disk refused a write in the CA home (${path}: ${code}${code === "ENOSPC" ? ", no space left" : ""}); free space or fix the disk, then run the command again`, {
          cause: e,
          details: { path, errno: code },
        });
      }
      throw e;
    }
  }

  /**
   * The audit key's signer, opened once. KEY_UNAVAILABLE names the audit key when it cannot be
   * opened: every write that hands something out must be recorded under a signed head.
   */
  auditSigner(): Promise<Signer> {
    if (!this.#auditSigner) {
      const key = this.state.auditKey;
      this.#auditSigner = this.keys.signer({ uri: key.keyUri, algorithm: key.keyAlgorithm, publicKey: Buffer.from(key.publicKey, "base64") }).catch((e: unknown) => {
        this.#auditSigner = undefined;
        // Credentials refused (a passphrase, a token PIN, a vault identity): say so, as it is.
        if (passphraseNotAccepted(e) || isTrustlineError(e, "AUTH_REQUIRED")) throw e;
        throw new TrustlineError("KEY_UNAVAILABLE", `the audit key cannot be opened, so the audit log's head cannot be signed; nothing was changed: ${(e as Error).message}`, {
          cause: e,
          details: { uri: key.keyUri, key: "audit" },
        });
      });
    }
    return this.#auditSigner;
  }

  /**
   * Record events (caller holds the lock) and sign the new head. The one case written without a
   * signed head: no passphrase was given, or it was wrong (an operation that needs no key, or one
   * refused before the passphrase was accepted): the entries are chained and `audit verify` reports
   * them as following the signed head. Any other failure to sign (the audit key file deleted or
   * unreadable) refuses the write with KEY_UNAVAILABLE.
   */
  async record(events: readonly AuditEvent[], options: { sign?: boolean } = {}): Promise<void> {
    const signer = options.sign === false ? undefined : await this.auditSignerIfPassphrase();
    await this.audit.append(events, signer);
  }

  /** The audit signer, or undefined when no passphrase was accepted; throws for any other failure. */
  async auditSignerIfPassphrase(): Promise<Signer | undefined> {
    try {
      return await this.auditSigner();
    } catch (e) {
      if (passphraseNotAccepted(e)) return undefined;
      throw e;
    }
  }

  /** Trace fields for "who, where and how": the signed-in principal's, or (before any write) the claimed actor's. */
  get who(): TraceFields {
    const p = this.#principal;
    return p ? traceOf(p) : { operator: this.actor.operator, station: this.actor.station };
  }
}

/** No passphrase was given, or it did not open the key: not a fault of the audit key itself. */
function passphraseNotAccepted(e: unknown): boolean {
  return isTrustlineError(e, "PASSPHRASE_REQUIRED") || (isTrustlineError(e, "KEY_UNAVAILABLE") && e.details.reason === "wrong-passphrase");
}

/** Errors by which a disk refuses a write. */
const DISK_REFUSALS: ReadonlySet<string> = new Set(["ENOSPC", "EDQUOT", "EIO", "EROFS", "EFBIG"]);

function memoize(source: PassphraseSource): PassphraseSource {
  let value: Promise<string> | undefined;
  return () => {
    if (!value) {
      value = source();
      value.catch(() => (value = undefined));
    }
    return value;
  };
}
