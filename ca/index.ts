/**
 * Trustline's public API. Everything the CLI does is a function here; nothing else is exported.
 */
export { TrustlineError, isTrustlineError, type ErrorCode } from "./errors.js";
export { Home, type HomeOptions, type Actor, type Clock } from "./home.js";
export type { PassphraseSource, KeyBackend, KeyRef } from "./keys/backend.js";
export type { Signer, SignatureAlgorithm } from "./keys/signer.js";
export {
  initHome,
  createCa,
  listCas,
  showCa,
  exportCa,
  CA_ALGORITHMS,
  DEFAULT_BASE_URL,
  type InitOptions,
  type InitResult,
  type CaSummary,
  type CaDetails,
  type CreateCaOptions,
} from "./hierarchy.js";
export { issueDeviceCertificate, generateDeviceCertificate, devicePkcs12, issueSignerCertificate, type RequestOptions, type GeneratedDevice } from "./leaf-certificates.js";
export type { IssuedCertificate } from "./issue.js";
export { showCertificate, listCertificates, type CertificateTrace, type ListedCertificate } from "./certificates.js";
export type { CertificateRecord, CertificateFilter, CertificateStatus, Store } from "./store/types.js";
export { verifyAuditLog, readAuditLog } from "./audit/operations.js";
export type { AuditEntry, AuditEvent, AuditVerdict, AuditHead } from "./audit/log.js";
export { parseCsr, createCsr, type ParsedCsr } from "./x509/csr.js";
export { summarizeCertificate, parseCertificate, parseCertificates, type CertificateSummary } from "./x509/inspect.js";
export { normalizeSerial } from "./x509/serial.js";
export { toPem, pemBlocks } from "./pem.js";
export * as policy from "../policy/index.js";
export type { KeyAlgorithm, ProfileName, CaProfileName } from "../policy/index.js";
export { writeFileAtomic } from "./store/atomic.js";
export { issueBatch, type BatchItem, type BatchOptions, type BatchSummary, type BatchProgress, type BatchRejection, type BatchIssued } from "./batch/issue-batch.js";
export { issueBatchFromFolder, listCsrFiles, type FolderBatchOptions, type FolderBatchSummary } from "./batch/folder.js";
export { validatePath, PathValidator, DEFAULT_MAX_DEPTH, DEFAULT_SEARCH_BUDGET, type ValidationOptions, type ValidatorOptions, type ValidationRequest } from "./validation/validate-path.js";
export { CertificateCache } from "./validation/cache.js";
export { crlViewFromDer } from "./validation/crl-der.js";
export type { CrlView, RevokedEntry, RevocationReason, IssuingDistributionPoint } from "./validation/crl-view.js";
export type { ValidationResult, ValidPath, InvalidPath, Check, CheckName, PathCertificate, FailedAttempt } from "./validation/result.js";
export { PURPOSES, type Purpose } from "./validation/purpose.js";
export type { RevocationMode } from "./validation/revocation.js";
