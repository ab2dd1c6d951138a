/**
 * Production-line stations for EST enrollment (RFC 7030 over mutual TLS, `trustline serve --est`):
 * each station holds a `station` certificate from the device CA (certificate-policy.md §7.1.10),
 * issued through the one pipeline (policy, audit, inventory) and recorded by name in the home's
 * state. The EST server asks `identifyStation` on every connection whether a client certificate
 * is the current one of an active station of this home. An admin's write (`station.manage`).
 */
import type { KeyAlgorithm } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { chainOf, getCa, issueCertificate, sha256Hex } from "../issue.js";
import { toPem } from "../pem.js";
import { foldRevocations } from "../store/file-inventory.js";
import type { HomeState } from "../store/state.js";
import type { RevocationEntry } from "../store/types.js";
import { serialOfCertificate } from "../x509/cert-fields.js";
import { describePublicKey, generateKeyPair, spkiOf } from "../x509/keys.js";

export interface StationRecord {
  readonly name: string;
  readonly status: "active" | "disabled";
  /** The issuing CA of its current certificate. */
  readonly ca: string;
  /** The serial of its current certificate (lowercase hex): an older one is "superseded". */
  readonly serial: string;
  readonly notAfter: string;
  readonly createdAt: string;
  /** The operator who added (or last replaced) it. */
  readonly createdBy: string;
  readonly disabledAt?: string;
  readonly disabledBy?: string;
}

export interface AddedStation {
  readonly station: StationRecord;
  /** The station's private key, unencrypted PKCS#8 PEM: for the station alone, never kept in the home. */
  readonly privateKeyPem: string;
  readonly certificatePem: string;
  /** The issuing CA up to and including the root, PEM, nearest first. */
  readonly chainPem: readonly string[];
}

export type StationRefusal = "not-a-station" | "unknown-station" | "disabled" | "revoked" | "expired" | "superseded";

/** The CA certificates from `ca` up to and including the root, PEM, nearest first. */
export function chainToRoot(home: Home, ca: string): string[] {
  let root = getCa(home, ca);
  while (root.parent !== null) root = getCa(home, root.parent);
  return [...chainOf(home, ca), root.certificate];
}

function stationsOf(state: HomeState): Readonly<Record<string, StationRecord>> {
  return state.stations ?? {};
}

function stationNamed(state: HomeState, name: string): StationRecord | undefined {
  const stations = stationsOf(state);
  return Object.hasOwn(stations, name) ? stations[name] : undefined;
}

/**
 * Enrol a station (or replace its certificate): a key generated here, in memory (the station's own
 * key: returned, never stored in the home), and a `station` certificate from `ca` (default
 * "device"). A name that is already an active station is ALREADY_EXISTS unless `replace`; the new
 * serial is then recorded, and the station's previous certificate is "superseded".
 */
export async function addStation(home: Home, name: string, options: { ca?: string; days?: number; algorithm?: KeyAlgorithm; replace?: boolean } = {}): Promise<AddedStation> {
  await home.authorize("station.manage");
  const ca = options.ca ?? "device";
  const existing = stationNamed(await home.refresh(), name);
  if (existing?.status === "active" && options.replace !== true) {
    throw new TrustlineError("ALREADY_EXISTS", `station "${name}" exists and is active (serial ${existing.serial}); add --replace to give it a new key and certificate`, { details: { station: name, serial: existing.serial } });
  }
  const { privateKey, publicKey } = await generateKeyPair(options.algorithm ?? "p256");
  const spki = spkiOf(publicKey);
  const issued = await issueCertificate(home, {
    profile: "station",
    ca,
    commonNames: [name],
    spki,
    key: describePublicKey(publicKey),
    requestSha256: sha256Hex(spki),
    keySource: "generated",
    ...(options.days !== undefined ? { validityDays: options.days } : {}),
  });
  const now = home.clock().toISOString();
  const station: StationRecord = {
    name,
    status: "active",
    ca: issued.record.ca,
    serial: issued.record.serial,
    notAfter: issued.record.notAfter,
    createdAt: now,
    createdBy: home.who.operator,
  };
  await home.transaction(async () => {
    await home.updateState((s) => {
      const current = stationNamed(s, name);
      // Another process enrolled the same name meanwhile: the certificate just issued is not recorded.
      if (current?.serial !== existing?.serial) {
        throw new TrustlineError("STORE_CONFLICT", `station "${name}" was changed by another process meanwhile; certificate ${station.serial} was issued but not recorded for it (revoke it: trustline revoke ${station.serial} --reason superseded)`, {
          details: { station: name, serial: station.serial },
        });
      }
      return { ...s, stations: { ...stationsOf(s), [name]: station } };
    });
    await home.record([
      {
        action: "station.add",
        outcome: "ok",
        ...home.who,
        ca: station.ca,
        serial: station.serial,
        profile: "station",
        subject: issued.record.subject,
        details: { station: name, replaced: existing?.serial ?? null, notAfter: station.notAfter },
      },
    ]);
  });
  const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
  return { station, privateKeyPem: toPem(pkcs8, "PRIVATE KEY"), certificatePem: issued.pem, chainPem: chainToRoot(home, station.ca) };
}

/** The stations of this home (as the Home's state holds them), by name. */
export function listStations(home: Home): StationRecord[] {
  return Object.values(stationsOf(home.state)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function setStatus(home: Home, name: string, status: StationRecord["status"]): Promise<StationRecord> {
  await home.authorize("station.manage");
  return home.transaction(async () => {
    let changed = false;
    let result: StationRecord | undefined;
    await home.updateState((s) => {
      const current = stationNamed(s, name);
      if (!current) {
        throw new TrustlineError("NOT_FOUND", `there is no station named "${name}" in this home; known: ${Object.keys(stationsOf(s)).join(", ") || "none"}`, { details: { station: name } });
      }
      changed = current.status !== status;
      if (!changed) {
        result = current;
        return s;
      }
      const { disabledAt: _at, disabledBy: _by, ...rest } = current;
      result = status === "disabled" ? { ...rest, status, disabledAt: home.clock().toISOString(), disabledBy: home.who.operator } : { ...rest, status };
      return { ...s, stations: { ...stationsOf(s), [name]: result } };
    });
    await home.record([
      {
        action: status === "disabled" ? "station.disable" : "station.enable",
        outcome: "ok",
        ...home.who,
        ca: result!.ca,
        serial: result!.serial,
        profile: "station",
        details: { station: name, changed },
      },
    ]);
    return result!;
  });
}

/** Refuse the station from now on (the EST server answers it no more); its certificate stays valid. Audited. */
export function disableStation(home: Home, name: string): Promise<StationRecord> {
  return setStatus(home, name, "disabled");
}

/** Accept a disabled station again. Audited. */
export function enableStation(home: Home, name: string): Promise<StationRecord> {
  return setStatus(home, name, "active");
}

/** Each Home's view of the revocation log, followed from where it was last read (only new events are read). */
const followers = new WeakMap<Home, { position: number; revoked: Map<string, RevocationEntry>; reading: Promise<void> }>();

async function currentRevocation(home: Home, serial: string): Promise<RevocationEntry | undefined> {
  let f = followers.get(home);
  if (!f) followers.set(home, (f = { position: 0, revoked: new Map(), reading: Promise.resolve() }));
  const follower = f;
  // One read at a time per Home, so no event is folded twice.
  const read = follower.reading.then(async () => {
    const { entries, next } = await home.inventory.revocationEventsSince(follower.position);
    foldRevocations(entries, undefined, follower.revoked);
    follower.position = next;
  });
  follower.reading = read.catch(() => undefined);
  await read;
  return follower.revoked.get(serial);
}

/**
 * Whether a client certificate (DER) that node's TLS layer verified up to the root is a usable
 * station certificate of this home at `now`. Reads the state this Home holds (the caller refreshes
 * it) and the inventory; takes no lock and writes nothing. Checked in this order:
 *   - "unknown-station": not a certificate this home issued (no record with its serial, or the
 *     record's bytes differ): a certificate of another home, or not a certificate at all;
 *   - "not-a-station": this home issued it under another profile (a device, a signer, ...);
 *   - "unknown-station" too, with `station`: a station certificate whose name is not (any more) a
 *     station of this home;
 *   - "superseded": not the station's current certificate (`addStation` with `replace` since);
 *   - "revoked": revoked or on hold;
 *   - "expired": outside its validity at `now` (not yet valid included);
 *   - "disabled": the station is disabled.
 */
export async function identifyStation(
  home: Home,
  certificateDer: Uint8Array,
  now: Date,
): Promise<{ ok: true; station: StationRecord } | { ok: false; reason: StationRefusal; station?: string }> {
  let serial: string;
  try {
    serial = serialOfCertificate(certificateDer);
  } catch {
    return { ok: false, reason: "unknown-station" };
  }
  const record = await home.inventory.getCertificate(serial);
  if (!record || !Buffer.from(record.der, "base64").equals(Buffer.from(certificateDer))) return { ok: false, reason: "unknown-station" };
  if (record.profile !== "station") return { ok: false, reason: "not-a-station" };
  const name = record.commonName;
  const station = stationNamed(home.state, name);
  if (!station) return { ok: false, reason: "unknown-station", station: name };
  if (station.serial !== record.serial) return { ok: false, reason: "superseded", station: name };
  if (await currentRevocation(home, record.serial)) return { ok: false, reason: "revoked", station: name };
  if (now < new Date(record.notBefore) || now >= new Date(record.notAfter)) return { ok: false, reason: "expired", station: name };
  if (station.status !== "active") return { ok: false, reason: "disabled", station: name };
  return { ok: true, station };
}
