/** Messages between the batch coordinator (main thread) and its CSR workers. */
import type { IssuerFacts, ProfileName } from "../../policy/index.js";
import type { SignatureAlgorithm } from "../keys/signer.js";
import type { CertificateRecord } from "../store/types.js";
import type { RequestMap } from "./request-index.js";

export interface WorkerSetup {
  readonly profile: ProfileName;
  readonly issuer: Omit<IssuerFacts, "notBefore" | "notAfter"> & { readonly notBefore: string; readonly notAfter: string };
  readonly layout: { readonly algorithm: SignatureAlgorithm; readonly issuerName: Uint8Array; readonly issuerPublicKey: Uint8Array };
  readonly validityDays?: number;
  /** Requests read from files are refused above this size (and when not regular files). */
  readonly maxRequestBytes: number;
  /** Requests already issued in this batch (a RequestIndex's map): a re-run skips them. */
  readonly already: RequestMap;
}

/** A request given as bytes, or as a file the worker reads itself (keeps file I/O off the coordinator). */
export type WorkItem = { readonly index: number; readonly csr: Uint8Array } | { readonly index: number; readonly path: string };

export interface WorkChunk {
  readonly items: readonly WorkItem[];
  /** The coordinator's clock, so an injected clock reaches the workers. */
  readonly now: number;
}

export type WorkResult =
  | {
      readonly ok: true;
      readonly index: number;
      readonly tbs: Uint8Array;
      readonly serial: string;
      readonly requestSha256: string;
      readonly commonName: string;
      readonly subject: string;
      readonly notBefore: string;
      readonly notAfter: string;
      readonly policyOids: readonly string[];
    }
  | {
      readonly ok: false;
      readonly index: number;
      readonly requestSha256: string;
      readonly code: string;
      readonly message: string;
      /** A policy refusal's reasons, one a line (the message joins them). */
      readonly problems?: readonly string[];
    }
  | { readonly ok: "skipped"; readonly index: number; readonly requestSha256: string; readonly serial: string };

/** A result the coordinator signs. */
export type IssuableResult = Extract<WorkResult, { ok: true }>;

/** What a device certificate's record takes from its worker result (the caller adds who asked, the DER and the time). */
export function deviceRecordFields(r: IssuableResult, ca: string) {
  return {
    serial: r.serial,
    ca,
    profile: "device",
    policyOids: r.policyOids,
    subject: r.subject,
    commonName: r.commonName,
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    requestSha256: r.requestSha256,
    keySource: "csr",
  } satisfies Partial<CertificateRecord>;
}
