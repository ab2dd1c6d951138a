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
  moveCaKey,
  listCas,
  showCa,
  exportCa,
  certifyAuditKey,
  CA_ALGORITHMS,
  DEFAULT_BASE_URL,
  checkPolicyArc,
  type InitOptions,
  type InitResult,
  type CaSummary,
  type CaDetails,
  type CreateCaOptions,
} from "./hierarchy.js";
export { issueDeviceCertificate, generateDeviceCertificate, devicePkcs12, issueSignerCertificate, type RequestOptions, type GeneratedDevice } from "./leaf-certificates.js";
export type { IssuedCertificate } from "./issue.js";
export { showCertificate, listCertificates, certificatePem, type CertificateTrace, type ListedCertificate } from "./certificates.js";
export type { CertificateRecord, CertificateFilter, CertificateStatus, Store } from "./store/types.js";
export { openDatabase, isDatabaseUrl, redactedUrl, type Database, type DatabaseOptions } from "./store/postgres/connect.js";
export { migrate, checkSchemaVersion, schemaVersion, SCHEMA_VERSION, MIGRATIONS, type MigrationResult } from "./store/postgres/migrations.js";
export { PostgresInventory } from "./store/postgres/inventory.js";
export { copyHome, copyStore, type CopySummary } from "./store/copy.js";
export type { CrlStore, HomeStorage, Inventory, StateStore, StoredCrl } from "./store/home-storage.js";
export { verifyAuditLog, readAuditLog, auditCheckpoint, parseAuditCheckpoint, parseFingerprint } from "./audit/operations.js";
export type { AuditCheckpoint, AuditReport, AuditVerifyOptions, RootPin } from "./audit/operations.js";
export type { AuditEntry, AuditEvent, AuditVerdict, AuditHead } from "./audit/log.js";
export { parseCsr, createCsr, type ParsedCsr } from "./x509/csr.js";
export { summarizeCertificate, parseCertificate, parseCertificates, type CertificateSummary } from "./x509/inspect.js";
export { normalizeSerial } from "./x509/serial.js";
export { toPem, pemBlocks, dersOf, withoutDer } from "./pem.js";
export { checkStore, type StoreCheckReport } from "./store-check.js";
export { readInputFile, parseSizeLimit, DEFAULT_CSR_LIMIT, DEFAULT_INPUT_LIMIT } from "./input-file.js";
export * as policy from "../policy/index.js";
export type { KeyAlgorithm, ProfileName, CaProfileName } from "../policy/index.js";
export { writeFileAtomic } from "./store/atomic.js";
export { issueBatch, type BatchItem, type BatchOptions, type BatchSummary, type BatchProgress, type BatchRejection, type BatchIssued } from "./batch/issue-batch.js";
export { countCsrFiles, issueBatchFromFolder, listCsrFiles, type FolderBatchOptions, type FolderBatchSummary } from "./batch/folder.js";
export { revokeCertificate, planMassRevocation, revokeMass, type RevokeOptions, type RevocationResult, type MassSelector, type MassPlan, type MassResult } from "./revocation/revoke.js";
export { crlPastHalfLife, currentCrl, issueCrl, type IssuedCrl } from "./revocation/crl.js";
export { parseCrl, verifyCrlSignature, type ParsedCrl, type CrlEntry } from "./revocation/crl-codec.js";
export type { RevocationEntry } from "./store/types.js";
export type { RevocationReason } from "../policy/index.js";
export { startServer, SERVE_LIMITS, type ServeOptions, type ServeLimits, type RunningServer } from "./revocation/server.js";
export { serveWithWorkers, runServeWorker, isServeWorker, type ClusterOptions, type ClusterEstOptions } from "./revocation/cluster.js";
export { OcspResponder, ensureResponders } from "./revocation/ocsp-responder.js";
export { validatePath, PathValidator, DEFAULT_MAX_DEPTH, DEFAULT_SEARCH_BUDGET, type ValidationOptions, type ValidatorOptions, type ValidationRequest } from "./validation/validate-path.js";
export { CertificateCache } from "./validation/cache.js";
export { crlViewFromDer } from "./validation/crl-der.js";
export type { CrlView, RevokedEntry, RevocationReason as CrlRevocationReason, IssuingDistributionPoint } from "./validation/crl-view.js";
export type { ValidationResult, ValidPath, InvalidPath, Check, CheckName, PathCertificate, FailedAttempt } from "./validation/result.js";
export { PURPOSES, type Purpose } from "./validation/purpose.js";
export type { RevocationMode } from "./validation/revocation.js";
export { openFirmwareKey, signFirmware, type FirmwareSignOptions, type FirmwareSignature } from "./firmware/sign.js";
export { verifyFirmware, firmwarePolicyUnder, DEFAULT_FIRMWARE_POLICIES, type FirmwareVerifyOptions, type FirmwareVerdict, type FirmwareEvidence, type FirmwareCheck } from "./firmware/verify.js";
export type { FirmwareManifest } from "./firmware/manifest.js";
export { signerFromKeyFile } from "./keys/key-file.js";
export { DEFAULT_KEY_STORE, isRemoteKeyUri, keyScheme, openRemoteSigner } from "./keys/registry.js";
export { DPS_API_VERSION, DPS_BULK_MAX_ITEMS, ALLOCATION_POLICIES, enrollmentGroupIdProblems, bulkBodies } from "./dps/model.js";
export type { EnrollmentGroup, IndividualEnrollment, BulkEnrollmentOperation, BulkEnrollmentOperationResult, BulkEnrollmentOperationError, AllocationPolicy, ProvisioningStatus, BulkMode } from "./dps/model.js";
export { buildEnrollmentGroup, enrollmentGroupProblems, REPROVISION_CHOICES, type EnrollmentGroupOptions, type EnrollmentGroupExport, type ReprovisionChoice } from "./dps/enrollment-group.js";
export { issueVerificationCertificate, type VerificationCertificateOptions } from "./dps/verification.js";
export { individualEnrollment, exportDisabledEnrollments, planMirror, mirrorBodies, type IndividualEnrollmentExport, type DisabledEnrollmentsExport, type MirrorOptions, type MirrorPlan, type MirrorItem, type MirrorSkip } from "./dps/enrollments.js";
export { pushToDps, type PushOptions, type PushResult } from "./dps/push.js";
export { parseConnectionString, type DpsTransport } from "./dps/service-client.js";
export { uploadCaToDps, type UploadCaOptions, type UploadCaResult, type AccessTokenCredential } from "./dps/upload-ca.js";
export { generateKeyPair, newKeyPair } from "./x509/keys.js";
export { type Credential, LOCK_AFTER_FAILURES, FAILURE_WINDOW_MS } from "./operators/authenticate.js";
export { addOperator, changeOperator, listOperators, showOperator, checkRoles, type AddOperatorOptions, type NewAuthenticator, type Enrolment, type OperatorSummary, type OperatorChange } from "./operators/manage.js";
export { openSession, closeSession, revokeSession, listSessions, parseTtl, oidcOrigin, DEFAULT_SESSION_TTL_MS, type SignIn, type SignedInIdentity, type SessionSummary, type OpenedSession } from "./operators/sessions.js";
export { type Principal, type TraceFields } from "./operators/model.js";
export { ROLES, allows, rolesAllowing, type Role, type WriteAction } from "./operators/roles.js";
export { totp, otpauthUri, secretOfOtpauthUri } from "./operators/totp.js";
export { setNotifyUrl, notifySettings, type NotifySettings } from "./notify/settings.js";
export { WebhookNotifier, type SecurityEvent } from "./notify/webhook.js";
export { backupHome, MIN_BACKUP_PASSPHRASE, type BackupOptions, type BackupSummary } from "./backup/backup.js";
export { verifyBackup } from "./backup/verify.js";
export { restoreHome, type RestoreOptions, type RestoreResult } from "./backup/restore.js";
export { restoreHomeToDatabase, type DatabaseRestoreOptions, type DatabaseRestoreResult } from "./backup/restore-database.js";
export { snapshotPostgresHome, type PostgresSnapshot } from "./backup/postgres-source.js";
export { writeBackupArchive, type BackupEntry, type BackupSource, type WrittenArchive, type ArchiveWriteOptions } from "./backup/archive-writer.js";
export { readBackupArchive, type ArchiveSink, type ReadArchive } from "./backup/archive-reader.js";
export { snapshotFileHome } from "./backup/file-home-source.js";
export { DEFAULT_BACKUP_SCRYPT, BACKUP_FORMAT, type BackupSecret, type ScryptParams, type ArchiveHeader } from "./backup/header.js";
export type { BackupManifest, BackupCounts, BackupAuditHead, ArchivedFile, BackupSourceKind } from "./backup/manifest.js";
export type { FileTally } from "./backup/file-tally.js";
export { reportAuditTampering } from "./notify/security-events.js";
export { buildReport, reportPeriod, REPORT_FORMAT, type ReportData, type ReportOptions, type Anomaly } from "./reports/build.js";
export { writeReportCsv, csvField, CSV_COLUMNS } from "./reports/csv.js";
export { renderReportHtml } from "./reports/html.js";
export { ensureReportSigner, signReport, verifyReport, type ReportCheck, type ReportEvidence, type ReportVerdict, type ReportVerifyOptions, type SignedReport } from "./reports/signature.js";
export { startEstServer, EST_LIMITS, type EstOptions, type EstLimits, type RunningEstServer } from "./est/service.js";
export { EstClient, estBase, certificatesOf, type EstClientOptions, type EstEnrolled } from "./est/client.js";
export { EST_BATCH_IN_FLIGHT, enrollFolderThroughEst, type EstBatchOptions, type EstBatchSummary } from "./est/batch.js";
export { certsOnly, MEDIA as EST_MEDIA } from "./est/wire.js";
export { csrDer } from "./x509/csr.js";
export { addStation, chainToRoot, listStations, disableStation, enableStation, identifyStation, type StationRecord, type AddedStation, type StationRefusal } from "./stations/stations.js";
export { issueTlsCertificate, tlsServerIdentity, type TlsServerRecord } from "./stations/tls-server.js";
