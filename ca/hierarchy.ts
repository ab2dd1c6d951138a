/** The CA hierarchy: create a home (root + device + firmware CAs), add issuing CAs, list and export them. */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, rmdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { type CaProfileName, DEFAULT_POLICY_ARC, defaultDeviceUriTemplate, deviceUriTemplateProblems, type KeyAlgorithm, policyArcProblems, PROFILES } from "../policy/index.js";
import { TrustlineError } from "./errors.js";
import { ASSUME_PRINCIPAL, Home, type HomeOptions } from "./home.js";
import { DEFAULT_SCRYPT } from "./keys/encrypted-pkcs8.js";
import { caKeyRef, getCa, issueCertificate, chainOf, sha256Hex, caCertificateDer } from "./issue.js";
import { signerHolds } from "./keys/signer.js";
import { fsyncDirectory, writeFileAtomic } from "./store/atomic.js";
import { STORE_CONFIG, type StoreConfig } from "./store/home-storage.js";
import type { CaRecord, HomeState } from "./store/state.js";
import { describePublicKey, publicKeyFromSpki } from "./x509/keys.js";
import { parseCertificate, summarizeCertificate, type CertificateSummary } from "./x509/inspect.js";
import { DEFAULT_KEY_STORE, KeyBackends, keyScheme } from "./keys/registry.js";
import { addOperator, checkRoles, type Enrolment, type NewAuthenticator } from "./operators/manage.js";
import type { Role } from "./operators/roles.js";

export const CA_ALGORITHMS: readonly KeyAlgorithm[] = ["p256", "p384", "rsa3072", "rsa4096"];
export const DEFAULT_BASE_URL = "http://127.0.0.1:8080";
const CA_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

export interface InitOptions extends HomeOptions {
  readonly organization: string;
  readonly algorithm?: KeyAlgorithm;
  readonly baseUrl?: string;
  /** The arc of the home's certificate-policy OIDs (default DEFAULT_POLICY_ARC). */
  readonly policyArc?: string;
  /** Device certificates' subjectAltName URI template ({registration-id} inside); null: none. Default urn:<org-id>:device:{registration-id}. */
  readonly deviceUriTemplate?: string | null;
  /**
   * Where the CA keys are created: a key URI prefix (`file:`, the default: encrypted files in the
   * home; `azure-keyvault://<vault-host>/keys/`; `pkcs11:token=<label>`).
   */
  readonly keyStore?: string;
  /** Where the audit key is created (default: keyStore). */
  readonly auditKeyStore?: string;
  /**
   * The first admin (the `operator` option names it): its roles (default admin alone; a small shop
   * may add officer and issuer) and how it signs in (default an authenticator app, TOTP).
   */
  readonly firstAdmin?: { readonly roles?: readonly Role[]; readonly authenticator?: NewAuthenticator; readonly displayName?: string };
  /**
   * Keep state, inventory and audit log in PostgreSQL instead of the home folder: the database URL
   * (never with a password) and where its password is read from (else TRUSTLINE_DATABASE_PASSWORD_FILE
   * or PGPASSFILE). An empty database is migrated; one that holds a home is refused.
   */
  readonly store?: { readonly url: string; readonly passwordFile?: string };
}

export interface InitResult {
  readonly home: string;
  readonly organization: string;
  readonly baseUrl: string;
  readonly policyArc: string;
  /** The device subjectAltName template, or null when device certificates carry none. */
  readonly deviceUriTemplate: string | null;
  readonly keyStore: string;
  readonly auditKeyUri: string;
  /** The database holding state, inventory and audit log (URL without password); null: embedded in the home folder. */
  readonly store: string | null;
  readonly cas: readonly CaSummary[];
  readonly operator: string;
  /** The first admin's enrolment: its otpauth URI is shown here once and never again. */
  readonly firstAdmin: Enrolment;
}

export interface CaSummary {
  readonly name: string;
  readonly profile: CaProfileName;
  readonly parent: string | null;
  readonly subject: string;
  readonly serial: string;
  readonly keyAlgorithm: KeyAlgorithm;
  readonly keyUri: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** The home's policy arc, under which the CA's policy OIDs sit (in `ca list`; absent from summarizeCa alone). */
  readonly policyArc?: string;
}

/** The arc `init --policy-arc` asked for, checked (USAGE with every problem otherwise). */
export function checkPolicyArc(arc: string): string {
  const problems = policyArcProblems(arc);
  if (problems.length > 0) throw new TrustlineError("USAGE", `--policy-arc: ${problems.join("; ")}`, { details: { policyArc: arc, problems } });
  return arc;
}

function normalizeBaseUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TrustlineError("USAGE", `--base-url "${input}" is not a URL (e.g. http://pki.example.com)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TrustlineError("USAGE", `--base-url must be http or https (RFC 5280 recommends http for CRLs and AIA)`);
  if (url.search || url.hash) throw new TrustlineError("USAGE", "--base-url must not have a query or fragment");
  return url.toString().replace(/\/+$/, "");
}

export function summarizeCa(ca: CaRecord): CaSummary {
  return {
    name: ca.name,
    profile: ca.profile,
    parent: ca.parent,
    subject: ca.subject,
    serial: ca.serial,
    keyAlgorithm: ca.keyAlgorithm,
    keyUri: ca.keyUri,
    notBefore: ca.notBefore,
    notAfter: ca.notAfter,
  };
}

/**
 * Create a home: root CA, issuing CAs "device" and "firmware", the audit key and the first (admin)
 * operator. Built in a temporary sibling directory and renamed into place, so a crash leaves either
 * no home or a complete one. Refuses an existing, non-empty directory.
 */
export async function initHome(options: InitOptions): Promise<InitResult> {
  const target = resolve(options.home);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new TrustlineError("ALREADY_EXISTS", `${target} already exists and is not empty; refusing to overwrite a CA home`);
  }
  const algorithm = options.algorithm ?? "p256";
  if (!CA_ALGORITHMS.includes(algorithm)) throw new TrustlineError("USAGE", `--algorithm must be one of ${CA_ALGORITHMS.join(", ")}`);
  const baseUrl = normalizeBaseUrl(options.baseUrl ?? DEFAULT_BASE_URL);
  const policyArc = checkPolicyArc(options.policyArc ?? DEFAULT_POLICY_ARC);
  const deviceUriTemplate = options.deviceUriTemplate === undefined ? defaultDeviceUriTemplate(options.organization) : options.deviceUriTemplate;
  const sanProblems = deviceUriTemplate === null ? [] : deviceUriTemplateProblems(deviceUriTemplate);
  if (sanProblems.length > 0) throw new TrustlineError("USAGE", `--device-san: ${sanProblems.join("; ")}`, { details: { deviceUriTemplate, problems: sanProblems } });
  const keyStore = options.keyStore ?? DEFAULT_KEY_STORE;
  const auditKeyStore = options.auditKeyStore ?? keyStore;
  keyScheme(keyStore);
  keyScheme(auditKeyStore);
  mkdirSync(dirname(target), { recursive: true });
  const staging = join(dirname(target), `.${basename(target)}.init-${randomBytes(6).toString("hex")}`);
  mkdirSync(staging, { mode: 0o700 });
  let database: Awaited<ReturnType<typeof import("./store/postgres/storage.js").createPostgresStorage>> | undefined;
  if (options.store) {
    const { createPostgresStorage } = await import("./store/postgres/storage.js"); // pg is loaded only for such homes
    try {
      database = await createPostgresStorage(options.store.url, { ...(options.store.passwordFile ? { passwordFile: options.store.passwordFile } : {}), ...(options.env ? { env: options.env } : {}) });
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw e;
    }
  }
  const home = Home.at({ ...options, home: staging }, database?.storage);
  try {
    const clock = home.clock;
    const salt = randomBytes(16);
    const kdf = { ...DEFAULT_SCRYPT, salt };
    const keys = new KeyBackends({ homeDir: staging, passphrase: home.passphrase, kdf, env: home.env });
    const auditKey = await keys.generate("p256", "audit", auditKeyStore).finally(() => keys.close());
    const state: HomeState = {
      format: "trustline-home/1",
      organization: options.organization,
      baseUrl,
      policyArc,
      ...(deviceUriTemplate !== null ? { deviceUriTemplate } : {}),
      ...(keyStore !== DEFAULT_KEY_STORE ? { keyStore } : {}),
      createdAt: clock().toISOString(),
      kdf: { salt: salt.toString("base64"), cost: kdf.cost, blockSize: kdf.blockSize, parallelization: kdf.parallelization },
      auditKey: { keyUri: auditKey.uri, keyAlgorithm: auditKey.algorithm, publicKey: Buffer.from(auditKey.publicKey).toString("base64") },
      cas: {},
      operators: {},
    };
    const adminRoles = checkRoles(options.firstAdmin?.roles ?? ["admin"]);
    if (!adminRoles.includes("admin")) throw new TrustlineError("USAGE", "the first operator of a home is its admin: its roles must include admin");
    home[ASSUME_PRINCIPAL]({ operator: home.actor.operator, station: home.actor.station, session: null, origin: "init", roles: adminRoles });
    await home.inventory.create();
    await home.audit.create();
    await home.transaction(async () => {
      await home.stateStore.create(state);
      home.setState(state);
      await home.record([{ action: "init", outcome: "ok", ...home.who, details: { organization: options.organization, algorithm, baseUrl, policyArc, deviceUriTemplate, keyStore, auditKeyUri: auditKey.uri } }]);
    });
    const firstAdmin = await addOperator(
      home,
      { id: home.actor.operator, roles: adminRoles, authenticator: options.firstAdmin?.authenticator ?? { kind: "totp" }, ...(options.firstAdmin?.displayName ? { displayName: options.firstAdmin.displayName } : {}) },
      true,
    );
    await createCa(home, { name: "root", profile: "root-ca", algorithm });
    await certifyAuditKey(home);
    await createCa(home, { name: "device", profile: "device-ca", parent: "root", algorithm });
    await createCa(home, { name: "firmware", profile: "firmware-ca", parent: "root", algorithm });
    if (options.store) {
      const config: StoreConfig = { format: "trustline-store/1", url: options.store.url, ...(options.store.passwordFile ? { passwordFile: resolve(options.store.passwordFile) } : {}) };
      writeFileAtomic(join(staging, STORE_CONFIG), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    }
    await home.close();
    if (existsSync(target)) rmdirSync(target); // empty (checked above)
    renameSync(staging, target);
    fsyncDirectory(dirname(target));
    return {
      home: target,
      organization: options.organization,
      baseUrl,
      policyArc,
      deviceUriTemplate,
      keyStore,
      auditKeyUri: auditKey.uri,
      store: database ? database.storage.where : null,
      cas: Object.values(home.state.cas).map(summarizeCa),
      operator: home.actor.operator,
      firstAdmin,
    };
  } catch (e) {
    await home.close().catch(() => undefined);
    await database?.discard();
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

export interface CreateCaOptions {
  readonly name: string;
  readonly profile: CaProfileName;
  /** The parent CA (the root); absent for the root itself. */
  readonly parent?: string;
  readonly algorithm?: KeyAlgorithm;
  readonly validityDays?: number;
  /** Where the new key is created (a key URI prefix; default the home's key store). */
  readonly keyStore?: string;
  /** An existing key to certify instead of a new one (a key URI: a vault key or a token object). */
  readonly key?: string;
}

/**
 * Create a CA: a new key in a key backend (or an existing one, `key`) and a certificate from its
 * parent (or self-signed root).
 */
export async function createCa(home: Home, options: CreateCaOptions): Promise<CaSummary> {
  await home.authorize("ca.create");
  const { name, profile } = options;
  if (!CA_NAME.test(name)) throw new TrustlineError("USAGE", `CA name "${name.slice(0, 40)}" must be 1-32 lowercase letters, digits and -, starting and ending with a letter or digit`);
  if (Object.hasOwn(home.state.cas, name)) throw new TrustlineError("ALREADY_EXISTS", `a CA named "${name}" already exists`);
  if (profile === "root-ca" && options.parent !== undefined) throw new TrustlineError("USAGE", "a root CA has no parent");
  if (profile !== "root-ca" && options.parent === undefined) throw new TrustlineError("USAGE", `a ${profile} needs a parent CA (--parent root)`);
  if (options.parent !== undefined) getCa(home, options.parent);
  if (options.key !== undefined && options.keyStore !== undefined) throw new TrustlineError("USAGE", "give either --key (an existing key) or --key-store (where to create one), not both");
  const existing = options.key !== undefined ? await home.keys.describe(options.key) : undefined;
  if (existing && options.algorithm !== undefined && existing.algorithm !== options.algorithm) {
    throw new TrustlineError("USAGE", `the key ${existing.uri} is ${existing.algorithm}, not ${options.algorithm}`);
  }
  const algorithm = existing?.algorithm ?? options.algorithm ?? (options.parent ? getCa(home, options.parent).keyAlgorithm : "p256");
  if (!CA_ALGORITHMS.includes(algorithm)) throw new TrustlineError("USAGE", `CA keys must be one of ${CA_ALGORITHMS.join(", ")}`);

  const keyRef = existing ?? (await home.keys.generate(algorithm, name, options.keyStore ?? home.keyStore));
  const publicKey = publicKeyFromSpki(keyRef.publicKey);
  const selfSigner = profile === "root-ca" ? await home.keys.signer(keyRef) : undefined;
  const issued = await issueCertificate(home, {
    profile,
    ca: options.parent,
    commonNames: [name],
    spki: keyRef.publicKey,
    key: describePublicKey(publicKey),
    requestSha256: sha256Hex(keyRef.publicKey),
    keySource: "generated",
    ...(options.validityDays !== undefined ? { validityDays: options.validityDays } : {}),
    ...(selfSigner ? { selfSigner } : {}),
  });
  const record: CaRecord = {
    name,
    profile,
    parent: options.parent ?? null,
    keyUri: keyRef.uri,
    keyAlgorithm: algorithm,
    certificate: issued.pem,
    serial: issued.record.serial,
    subject: issued.record.subject,
    notBefore: issued.record.notBefore,
    notAfter: issued.record.notAfter,
    createdAt: home.clock().toISOString(),
  };
  await home.transaction(async () => {
    await home.updateState((s) => {
      if (Object.hasOwn(s.cas, name)) throw new TrustlineError("STORE_CONFLICT", `a CA named "${name}" was created meanwhile by another process`);
      return { ...s, cas: { ...s.cas, [name]: record } };
    });
    await home.record([{ action: "ca.create", outcome: "ok", ...home.who, ca: name, serial: record.serial, profile, subject: record.subject, details: { parent: record.parent, keyUri: record.keyUri } }]);
  });
  return summarizeCa(record);
}

/**
 * Certify the audit key by the root (profile `audit-signer`), so `audit verify --root` can tell the
 * home's audit key from one put in its place. Part of init; for a home made before, it certifies
 * the existing key (needs the root's passphrase). Refuses to replace an existing certificate.
 */
export async function certifyAuditKey(home: Home): Promise<{ serial: string; notAfter: string; certificate: string }> {
  await home.authorize("audit.certify");
  const auditKey = home.state.auditKey;
  if (auditKey.certificate) throw new TrustlineError("ALREADY_EXISTS", "the audit key is already certified by the root; nothing to do");
  const spki = Buffer.from(auditKey.publicKey, "base64");
  // Proof that the key in state.json is the key that signs heads: open it (it must sign for its public key).
  await home.auditSigner();
  const issued = await issueCertificate(home, {
    profile: "audit-signer",
    ca: "root",
    commonNames: ["audit log signer"],
    spki,
    key: describePublicKey(publicKeyFromSpki(spki)),
    requestSha256: sha256Hex(spki),
    keySource: "generated",
  });
  await home.transaction(async () => {
    await home.updateState((s) => ({ ...s, auditKey: { ...s.auditKey, certificate: issued.pem } }));
    await home.record([{ action: "audit.certify", outcome: "ok", ...home.who, ca: "root", serial: issued.record.serial, profile: "audit-signer", subject: issued.record.subject }]);
  });
  return { serial: issued.record.serial, notAfter: issued.record.notAfter, certificate: issued.pem };
}

/**
 * Point a CA at another copy of its own key: a key imported into Key Vault or onto a token from
 * the home's key file (`az keyvault key import`, `pkcs11-tool --write-object`). The new key must
 * have the CA certificate's public key and sign for it; then the CA's key URI changes, audited.
 * The old key file is left for the operator to destroy once the new key has been used.
 */
export async function moveCaKey(home: Home, name: string, uri: string): Promise<CaSummary & { previousKeyUri: string }> {
  await home.authorize("ca.move-key");
  const ca = getCa(home, name);
  if (ca.keyUri === uri) throw new TrustlineError("USAGE", `CA "${name}" already uses the key ${uri}`);
  const described = await home.keys.describe(uri);
  const certified = caKeyRef(ca);
  if (!Buffer.from(described.publicKey).equals(Buffer.from(certified.publicKey))) {
    throw new TrustlineError("USAGE", `the key ${uri} is not CA "${name}"'s key: its public key differs from the CA certificate's; import the CA's own key, or create a new CA on this key with ca create --key`);
  }
  // It must also sign for that public key (the signer checks the match, then one signature is verified).
  if (!(await signerHolds(await home.keys.signer({ ...certified, uri })))) {
    throw new TrustlineError("KEY_UNAVAILABLE", `the key ${uri} did not produce a valid signature; CA "${name}" keeps ${ca.keyUri}`);
  }
  let moved: CaRecord = ca;
  await home.transaction(async () => {
    await home.updateState((s) => {
      const current = s.cas[name];
      if (!current || current.keyUri !== ca.keyUri) throw new TrustlineError("STORE_CONFLICT", `CA "${name}" changed meanwhile in another process; run the command again`);
      moved = { ...current, keyUri: uri };
      return { ...s, cas: { ...s.cas, [name]: moved } };
    });
    await home.record([{ action: "ca.move-key", outcome: "ok", ...home.who, ca: name, serial: ca.serial, details: { from: ca.keyUri, to: uri } }]);
  });
  return { ...summarizeCa(moved), previousKeyUri: ca.keyUri };
}

export function listCas(home: Home): CaSummary[] {
  return Object.values(home.state.cas).map((ca) => ({ ...summarizeCa(ca), policyArc: home.policyArc }));
}

export interface CaDetails extends CaSummary {
  readonly certificate: string;
  readonly summary: CertificateSummary;
  readonly profileTitle: string;
}

export async function showCa(home: Home, name: string): Promise<CaDetails> {
  const ca = getCa(home, name);
  return { ...summarizeCa(ca), policyArc: home.policyArc, certificate: ca.certificate, profileTitle: PROFILES[ca.profile].title, summary: await summarizeCertificate(await parseCertificate(caCertificateDer(ca))) };
}

/** The CA certificate (PEM), with `chain` also its parents up to and including the root. Audited. */
export async function exportCa(home: Home, name: string, options: { chain?: boolean } = {}): Promise<string> {
  const ca = getCa(home, name);
  const pems = options.chain ? [...chainOf(home, name), getCa(home, rootOf(home, name)).certificate] : [ca.certificate];
  const unique = [...new Set(pems)];
  await home.transaction(() => home.record([{ action: "ca.export", outcome: "ok", ...home.who, ca: name, serial: ca.serial, details: { chain: options.chain === true } }]));
  return unique.join("");
}

function rootOf(home: Home, name: string): string {
  let ca = getCa(home, name);
  while (ca.parent !== null) ca = getCa(home, ca.parent);
  return ca.name;
}
