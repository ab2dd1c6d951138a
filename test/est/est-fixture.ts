/**
 * An EST service for tests: a CA home (made with the fixed clock, then served with the real one,
 * since TLS peers check certificates against the real time), its `serve` and `serve --est` on
 * 127.0.0.1, a station "line-7" with its certificate and key on disk, and issuer operators with
 * shift sessions opened at their stations.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { addOperator, Home, openSession, startEstServer, startServer, type EstLimits, type RunningEstServer, type RunningServer } from "../../ca/index.js";
import { addStation } from "../../ca/stations/stations.js";
import { issueTlsCertificate, tlsServerIdentity } from "../../ca/stations/tls-server.js";
import { makeHome, PASSPHRASE, reopen } from "../helpers/pki.js";
import { totpNow } from "../helpers/totp.js";

export interface StationFiles {
  readonly name: string;
  readonly cert: string;
  readonly key: string;
  readonly serial: string;
}

export interface EstFixture {
  readonly dir: string;
  /** The home as the admin (alice) opens it, with the real clock. */
  readonly admin: Home;
  readonly server: RunningServer;
  readonly est: RunningEstServer;
  /** The root certificate file: what clients trust (curl --cacert). */
  readonly rootFile: string;
  /** The device CA certificate file (openssl verify -untrusted). */
  readonly deviceCaFile: string;
  station(name: string): Promise<StationFiles>;
  /** A shift session of a new operator with `roles`, opened at `station` (at `at`, default now). */
  session(
    station: string,
    roles?: ("issuer" | "auditor" | "officer")[],
    options?: { at?: Date; ttlMs?: number; beforeOpen?: () => Promise<unknown> },
  ): Promise<{ operator: string; token: string; id: string }>;
  /** Another EST server on the same home (different limits). */
  startEst(limits: Partial<EstLimits>): Promise<RunningEstServer>;
  close(): Promise<void>;
}

let operators = 0;

export async function estFixture(dir: string, limits: Partial<EstLimits> = {}): Promise<EstFixture> {
  const made = await makeHome(dir);
  const tokenHome = await reopen(made, { clock: () => new Date(), station: "ca-server" });
  await made.close();
  await issueTlsCertificate(tokenHome, { hosts: ["localhost", "127.0.0.1"] });
  const rootFile = join(dir, "root.pem");
  writeFileSync(rootFile, tokenHome.state.cas.root!.certificate);
  const deviceCaFile = join(dir, "device-ca.pem");
  writeFileSync(deviceCaFile, tokenHome.state.cas.device!.certificate);
  const server = await startServer(tokenHome, { port: 0 });
  const identity = await tlsServerIdentity(tokenHome);
  const startEst = (l: Partial<EstLimits>) => startEstServer(tokenHome, { port: 0, tls: identity, responder: server.responder, limits: { ...limits, ...l } });
  const est = await startEst({});
  const otherHomes: Home[] = [];
  return {
    dir,
    admin: tokenHome,
    server,
    est,
    rootFile,
    deviceCaFile,
    async station(name) {
      const added = await addStation(tokenHome, name);
      const cert = join(dir, `${name}.pem`);
      const key = join(dir, `${name}.key`);
      writeFileSync(cert, added.certificatePem);
      writeFileSync(key, added.privateKeyPem, { mode: 0o600 });
      return { name, cert, key, serial: added.station.serial };
    },
    async session(station, roles = ["issuer"], options = {}) {
      const id = `op${++operators}`;
      const enrolled = await addOperator(tokenHome, { id, roles, authenticator: { kind: "totp" } });
      const at = options.at ?? new Date();
      const atStation = await Home.open({ home: made.dir, passphrase: async () => PASSPHRASE, clock: () => at, station });
      otherHomes.push(atStation);
      await options.beforeOpen?.();
      const opened = await openSession(atStation, { kind: "totp", operator: id, code: totpNow(enrolled.otpauthUri!, at) }, options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {});
      return { operator: id, token: opened.token, id: opened.session.id };
    },
    startEst,
    async close() {
      await est.close();
      await server.close();
      for (const h of otherHomes) await h.close();
      await tokenHome.close();
    },
  };
}

