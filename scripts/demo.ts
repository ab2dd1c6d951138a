/**
 * `npm run demo`: the main job on the embedded default, in a temporary home. Creates a CA
 * hierarchy, issues device certificates the way a production line does (device CSRs, a generated
 * key, one bad CSR, a whole folder as a batch), issues a CI firmware signer, signs and verifies a
 * firmware image (and refuses a tampered one), enrols an EST station and makes the EST server's
 * TLS certificate, shows the trace of a certificate, revokes (one, then an incident's worth),
 * enrols a device through the EST service (mutual TLS, the station holding no CA key),
 * serves CRLs and OCSP, exports the DPS enrollment group and the disabled enrollments, puts a
 * plant's issuing CA on an HSM (SoftHSM2, when installed), and verifies the audit trail. Prints
 * what it did.
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { bin, POSTGRES_MISSING, startPostgres } from "./postgres-server.js";
import { join } from "node:path";
import {
  addStation,
  identifyStation,
  issueTlsCertificate,
  tlsServerIdentity,
  startEstServer,
  EstClient,
  createCsr,
  exportCa,
  dersOf,
  generateDeviceCertificate,
  Home,
  initHome,
  isTrustlineError,
  issueDeviceCertificate,
  buildEnrollmentGroup,
  exportDisabledEnrollments,
  issueBatchFromFolder,
  issueCrl,
  issueSignerCertificate,
  signerFromKeyFile,
  signFirmware,
  verifyFirmware,
  listCertificates,
  parseCrl,
  planMassRevocation,
  revokeCertificate,
  revokeMass,
  startServer,
  toPem,
  showCertificate,
  newKeyPair,
  verifyAuditLog,
  auditCheckpoint,
  checkStore,
  createCa,
  addOperator,
  buildReport,
  renderReportHtml,
  openSession,
  secretOfOtpauthUri,
  totp,
  signReport,
  verifyReport,
  backupHome,
  copyHome,
  verifyBackup,
} from "../ca/index.js";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** A SoftHSM2 token in the demo's folder, when SoftHSM2 is installed: the environment that names it. */
function softhsmForDemo(dir: string): Record<string, string> | undefined {
  if (spawnSync("softhsm2-util", ["--version"]).status !== 0) return undefined;
  const module = (spawnSync("dpkg", ["-L", "libsofthsm2"], { encoding: "utf8" }).stdout ?? "").split("\n").find((l) => l.endsWith("/libsofthsm2.so") && existsSync(l));
  if (!module) return undefined;
  mkdirSync(join(dir, "hsm", "tokens"), { recursive: true });
  const conf = join(dir, "hsm", "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(dir, "hsm", "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  // Demo only: a real station keeps the PIN in a root-owned file (TRUSTLINE_PKCS11_PIN_FILE).
  const pin = "demo-pin-never-in-production";
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "plant-lyon", "--so-pin", `${pin}-so`, "--pin", pin], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: "pipe" });
  return { SOFTHSM2_CONF: conf, TRUSTLINE_PKCS11_MODULE: module, TRUSTLINE_PKCS11_PIN: pin };
}

const keep = process.argv.includes("--keep");
const dir = mkdtempSync(join(tmpdir(), "trustline-demo-"));
const homeDir = join(dir, "pki");
// Demo only: a real station reads the passphrase from a file or a prompt.
const passphrase = async () => "demo passphrase - never use in production";
const step = (title: string) => console.log(`\n== ${title}`);

try {
  step("1. init: root CA, device CA, firmware CA (P-256, encrypted file keys)");
  let t0 = performance.now();
  const init = await initHome({ home: homeDir, organization: "Acme Devices", passphrase, operator: "alice", station: "pki-office" });
  for (const ca of init.cas) console.log(`   ${ca.name.padEnd(9)} ${ca.profile.padEnd(12)} ${ca.subject}  (until ${ca.notAfter.slice(0, 10)})`);
  console.log(`   home ${homeDir} (${(performance.now() - t0).toFixed(0)} ms)`);
  console.log(`   first admin alice enrols her authenticator app (shown once): ${init.firstAdmin.otpauthUri!.replace(/secret=[A-Z2-7]+/, "secret=…")}`);

  step("1b. operators: alice (admin, her code) enrols Jeanne (issuer), Bob (officer) and the CI pipeline (service account)");
  // The demo stands in for each person's phone: it computes the code their authenticator app shows.
  const codeOf = (uri: string) => totp(secretOfOtpauthUri(uri), new Date());
  const aliceShift = await openSession(await Home.open({ home: homeDir, passphrase, station: "pki-office" }), { kind: "totp", operator: "alice", code: codeOf(init.firstAdmin.otpauthUri!) });
  const admin = await Home.open({ home: homeDir, passphrase, credential: { kind: "session", token: aliceShift.token } });
  const jeanne = await addOperator(admin, { id: "jeanne", displayName: "Jeanne Martin", roles: ["issuer"], authenticator: { kind: "totp" } });
  const bob = await addOperator(admin, { id: "bob", displayName: "Bob Keller", roles: ["officer"], authenticator: { kind: "totp" } });
  const ciBot = await addOperator(admin, { id: "ci-bot", roles: ["officer"], authenticator: { kind: "service" } });
  for (const o of [jeanne, bob, ciBot]) console.log(`   ${o.operator.id.padEnd(7)} ${o.operator.roles.join(",").padEnd(8)} signs in with ${o.operator.authenticator === "service" ? "a token file (TRUSTLINE_TOKEN_FILE), shown once" : "an authenticator app"}`);
  const refused = await Home.open({ home: homeDir, passphrase, station: "line-7", credential: { kind: "service-token", token: ciBot.token! } });
  await generateDeviceCertificate(refused, "not-for-ci").catch((e: unknown) => console.log(`   ci-bot tries to issue a device certificate: refused [${isTrustlineError(e) ? e.code : e}] (${isTrustlineError(e) ? e.message : ""})`));

  step("1c. EST: alice enrols station line-7 (its key made here, handed to the station, kept nowhere) and makes the EST server's TLS certificate");
  const est = await addStation(admin, "line-7");
  console.log(`   station ${est.station.name}: certificate ${est.station.serial.slice(0, 16)}… (clientAuth) from CA ${est.station.ca}, until ${est.station.notAfter.slice(0, 10)}`);
  const tls = await issueTlsCertificate(admin, { hosts: ["est.acme.example", "127.0.0.1"] });
  console.log(`   EST server: ${tls.record.hosts.join(", ")} (serverAuth), key ${tls.record.keyUri} encrypted in the home`);
  const seen = await identifyStation(admin, new Uint8Array(new X509Certificate(est.certificatePem).raw), new Date());
  console.log(`   the EST server would ${seen.ok ? `accept station ${seen.station.name}` : `refuse it (${seen.reason})`}`);

  step("2. production line: Jeanne opens an 8-hour shift session at line-7 with her code; the line issues under it, batch DEMO-B1");
  const shift = await openSession(await Home.open({ home: homeDir, passphrase, station: "line-7" }), { kind: "totp", operator: "jeanne", code: codeOf(jeanne.otpauthUri!) });
  console.log(`   session ${shift.session.id} for ${shift.session.operator} at ${shift.session.station} until ${shift.session.expiresAt} (the station keeps the token in a 0600 file)`);
  const line = await Home.open({ home: homeDir, passphrase, credential: { kind: "session", token: shift.token } });
  t0 = performance.now();
  const issued = [];
  for (let i = 1; i <= 5; i++) {
    const { privateKey } = newKeyPair("ec", { namedCurve: "P-256" });
    const csr = createCsr(privateKey, `acme-sensor-${String(i).padStart(4, "0")}`);
    issued.push(await issueDeviceCertificate(line, csr, { batch: "DEMO-B1" }));
  }
  for (const c of issued) console.log(`   issued ${c.record.subject.padEnd(22)} serial ${c.record.serial}`);
  console.log(`   ${issued.length} certificates in ${(performance.now() - t0).toFixed(0)} ms`);

  step("3. a device that cannot make its own key: key + certificate generated at the station");
  const generated = await generateDeviceCertificate(line, "acme-gateway-0001", { batch: "DEMO-B1" });
  console.log(`   issued ${generated.record.subject} with a ${generated.privateKey.asymmetricKeyType?.toUpperCase()} key generated here`);

  step("4. a bad request is refused with every reason, and nothing is issued");
  const { privateKey: weak } = newKeyPair("rsa", { modulusLength: 1024 });
  try {
    await issueDeviceCertificate(line, createCsr(weak, "not a valid id!"), { batch: "DEMO-B1" });
  } catch (e) {
    if (!isTrustlineError(e)) throw e;
    console.log(`   refused [${e.code}]: ${e.message.replace(/\n/g, "\n   ")}`);
  }

  step("5. CI firmware signer: Bob (officer, his code) certifies the release pipeline's key (codeSigning only)");
  const officer = await Home.open({ home: homeDir, passphrase, operator: "bob", station: "pki-office", credential: { kind: "totp", operator: "bob", code: codeOf(bob.otpauthUri!) } });
  const ci = newKeyPair("ec", { namedCurve: "P-256" });
  const signer = await issueSignerCertificate(officer, createCsr(ci.privateKey, "ignored"), "ci-release-pipeline");
  console.log(`   issued ${signer.record.subject} from CA ${signer.record.ca}, profile ${signer.record.profile}`);

  step("6. CI signs a firmware image; a device verifies it offline (chain, policy, CRLs, manifest)");
  const ciKeyFile = join(dir, "ci.key");
  writeFileSync(ciKeyFile, ci.privateKey.export({ format: "pem", type: "pkcs8" }) as string, { mode: 0o600 });
  const image = join(dir, "tc-100-2.4.1.bin");
  writeFileSync(image, randomBytes(4 << 20));
  const signed = await signFirmware({ image, certificate: Buffer.from(signer.pem + signer.chain.join("")), signer: signerFromKeyFile(ciKeyFile), version: "2.4.1", hardware: "tc-100", securityVersion: 12 });
  const fwRoot = Buffer.from(await exportCa(line, "root"));
  const fwCrls = [(await issueCrl(officer, "firmware")).der, (await issueCrl(officer, "root")).der];
  const verdict1 = await verifyFirmware({ image, signature: signed.der, trust: [fwRoot], crls: fwCrls, hardware: "tc-100", minSecurityVersion: 12 });
  console.log(`   signed ${signed.manifest.name} (${signed.manifest.imageSize} bytes, version ${signed.manifest.version}); verify: ${verdict1.valid ? "VALID" : `INVALID (${verdict1.check})`}, chain ${verdict1.evidence.path?.length ?? 0} certificates, CRLs #${verdict1.evidence.crls?.map((c) => c.crlNumber).join(", #")}`);
  const tampered = readFileSync(image);
  tampered[1000] = tampered[1000]! ^ 0xff;
  writeFileSync(image, tampered);
  const verdict2 = await verifyFirmware({ image, signature: signed.der, trust: [fwRoot], crls: fwCrls });
  console.log(`   one flipped byte: ${verdict2.valid ? "VALID (unexpected!)" : `refused, check "${verdict2.check}"`}`);
  if (verdict2.valid || !verdict1.valid) process.exitCode = 1;

  step("7. the chain holds: each certificate is signed by its CA, up to the root");
  const root = new X509Certificate(await exportCa(line, "root"));
  const deviceCa = new X509Certificate(issued[0]!.chain[0]!);
  const leaf = new X509Certificate(issued[0]!.pem);
  console.log(`   leaf signed by device CA: ${leaf.verify(deviceCa.publicKey)}; device CA signed by root: ${deviceCa.verify(root.publicKey)}; leaf issuer matches: ${leaf.checkIssued(deviceCa)}`);

  step("8. traceability: who certified acme-sensor-0003, when, where, under which policy");
  const trace = await showCertificate(line, { serial: issued[2]!.record.serial.toUpperCase().replace(/(..)(?!$)/g, "$1:") });
  console.log(`   ${trace.subject}: profile ${trace.profile}, policy ${trace.policyOids.join(", ")}`);
  console.log(`   issued ${trace.issuedAt} by ${trace.operator} at ${trace.station}, batch ${trace.batch}, CSR sha256 ${trace.requestSha256.slice(0, 16)}…, status ${trace.status}`);
  console.log(`   signed in with ${trace.origin}, shift session ${trace.session} (opened ${shift.session.createdAt})`);

  step("9. a contract manufacturer's folder of 500 CSRs, issued as one batch on worker threads");
  const delivery = join(dir, "delivery");
  mkdirSync(delivery);
  const { privateKey: cmKey } = newKeyPair("ec", { namedCurve: "P-256" });
  for (let i = 1; i <= 500; i++) writeFileSync(join(delivery, `cm-${String(i).padStart(4, "0")}.csr`), toPem(createCsr(cmKey, `acme-cm-${String(i).padStart(4, "0")}`), "CERTIFICATE REQUEST"));
  writeFileSync(join(delivery, "cm-broken.csr"), "not a CSR\n");
  const batch = await issueBatchFromFolder(line, { csrDir: delivery, outDir: join(dir, "delivered"), batch: "CM-DEMO" });
  console.log(`   issued ${batch.issued} in ${(batch.durationMs / 1000).toFixed(2)} s (${batch.certificatesPerSecond.toFixed(0)}/s); refused ${batch.rejected.map((r) => `${r.id} [${r.code}]`).join(", ")}`);
  const rerun = await issueBatchFromFolder(line, { csrDir: delivery, outDir: join(dir, "delivered"), batch: "CM-DEMO" });
  console.log(`   the same command again (as after a crash): issued ${rerun.issued}, skipped ${rerun.skipped} already issued`);

  step("10. revocation: one device for key compromise, then an incident at station line-7 (mass revocation)");
  const one = await revokeCertificate(officer, issued[0]!.record.serial, { reason: "keyCompromise" });
  console.log(`   revoked ${one.subject}: ${one.reason}`);
  const plan = await planMassRevocation(officer, { station: "line-7", batch: "DEMO-B1" });
  // A mass revocation is an admin's act: alice, under the session she opened in step 1b.
  const incident = await Home.open({ home: homeDir, passphrase, station: "pki-office", credential: { kind: "session", token: aliceShift.token } });
  const mass = await revokeMass(incident, { station: "line-7", batch: "DEMO-B1" }, { reason: "superseded" });
  console.log(`   planned ${plan.serials.length}, revoked ${mass.revoked} more from batch DEMO-B1 at line-7`);

  step("11. CRLs and OCSP over HTTP (trustline serve), on 127.0.0.1");
  const server = await startServer(officer, { port: 0 });
  try {
    const response = await fetch(`${server.url}/crl/device.crl`);
    const crl = parseCrl(new Uint8Array(await response.arrayBuffer()));
    console.log(`   GET /crl/device.crl: ${response.headers.get("content-type")}, CRL number ${crl.crlNumber}, ${crl.entries.length} entries, next update ${crl.nextUpdate?.toISOString()}`);
    console.log(`   OCSP at ${server.url}/ocsp/<ca>, answered by responders for ${server.responder.cas.join(", ")}`);

    step("11b. the line as a service: station line-7 enrolls a device over EST (RFC 7030, mutual TLS), holding no CA key");
    const estServer = await startEstServer(officer, { port: 0, tls: await tlsServerIdentity(officer), responder: server.responder });
    // The station holds only its certificate and key (step 1c), the root, and Jeanne's shift session.
    const station = new EstClient({ url: estServer.url, certificatePem: est.certificatePem, keyPem: est.privateKeyPem, trustPem: officer.state.cas.root!.certificate, sessionToken: shift.token });
    try {
      const enrolled = await station.enroll(createCsr(newKeyPair("ec", { namedCurve: "P-256" }).privateKey, "acme-sensor-0600"));
      const record = (await officer.inventory.getCertificate(enrolled.serial))!;
      console.log(`   POST ${estServer.url}/.well-known/est/simpleenroll: ${record.subject}, serial ${record.serial}`);
      console.log(`   certified by ${record.operator} (${record.origin}) at ${record.station} through the EST service (via ${record.via})`);
    } finally {
      station.close();
      await estServer.close();
    }
  } finally {
    await server.close();
  }

  step("12. Azure DPS: the enrollment group, and the revoked devices as disabled enrollments");
  const group = buildEnrollmentGroup(officer, { id: "acme-line-7", iotHubs: ["acme-hub.azure-devices.net"] });
  writeFileSync(join(dir, "group.json"), JSON.stringify(group.enrollmentGroup, null, 2));
  console.log(`   group ${group.enrollmentGroup.enrollmentGroupId}: attests with the device CA, allocation ${group.enrollmentGroup.allocationPolicy}`);
  console.log(`   az equivalent: ${group.az.commandLine.slice(0, 110)}…`);
  const mirror = await exportDisabledEnrollments(officer, join(dir, "dps"));
  console.log(`   ${mirror.disabled.length} revoked devices → ${mirror.files.length} bulk-operation bodies (${mirror.files.map((f) => f.items).join("+")} enrollments, at most 10 each)`);
  const again = await exportDisabledEnrollments(officer, join(dir, "dps"));
  console.log(`   a second export with no new revocation writes ${again.files.length} files`);

  step("13. a plant's issuing CA whose key is on an HSM (PKCS#11; SoftHSM2 stands in for it)");
  const hsm = softhsmForDemo(dir);
  if (!hsm) {
    console.log("   skipped: softhsm2-util is not installed (apt-get install softhsm2)");
  } else {
    const plantAdmin = await Home.open({ home: homeDir, passphrase, station: "pki-office", env: { ...process.env, ...hsm }, credential: { kind: "session", token: aliceShift.token } });
    const plant = await createCa(plantAdmin, { name: "plant-lyon", profile: "device-ca", parent: "root", keyStore: "pkcs11:token=plant-lyon" });
    const { privateKey } = newKeyPair("ec", { namedCurve: "P-256" });
    const lyonLine = await Home.open({ home: homeDir, passphrase, env: { ...process.env, ...hsm }, credential: { kind: "session", token: shift.token } });
    const onHsm = await issueDeviceCertificate(lyonLine, createCsr(privateKey, "acme-sensor-lyon-0001"), { ca: "plant-lyon", batch: "DEMO-LYON" });
    await lyonLine.close();
    await plantAdmin.close();
    console.log(`   CA plant-lyon signs with ${plant.keyUri.split("?")[0]}`);
    console.log(`   issued ${onHsm.record.subject} under it; the key was generated on the token and never left it`);
  }

  step("14. auditor: inventory by batch, and the audit trail's integrity");
  let count = 0;
  let revokedCount = 0;
  for await (const r of listCertificates(line, { batch: "DEMO-B1" })) {
    count += r.profile === "device" ? 1 : 0;
    revokedCount += r.status === "revoked" ? 1 : 0;
  }
  console.log(`   batch DEMO-B1 holds ${count} device certificates, ${revokedCount} revoked`);
  // The auditor pins the root from outside the home and keeps a checkpoint outside it too.
  const pinnedRoot = dersOf(Buffer.from(await exportCa(line, "root")), "CERTIFICATE")[0]!;
  const checkpoint = await auditCheckpoint(line, { root: { certificate: pinnedRoot } });
  const verdict = await verifyAuditLog(line, { root: { certificate: pinnedRoot }, checkpoints: [checkpoint] });
  console.log(
    verdict.intact
      ? `   audit log intact: ${verdict.entries} entries, head signed through ${verdict.signedThrough} by an audit key the pinned root certified; checkpoint at entry ${checkpoint.seq} found`
      : `   AUDIT LOG BROKEN at ${verdict.firstBad}: ${verdict.problem}`,
  );
  const store = await checkStore(line);
  console.log(`   store check: ${store.consistent ? "consistent with the audit trail" : "NOT consistent"} (${store.certificatesInTrail} certificates issued, ${store.revocationsInTrail} revoked per the trail)`);
  if (!verdict.intact || !store.consistent) process.exitCode = 1;

  step("15. the auditor's report of the last 30 days: JSON (schemas/report.schema.json) and one self-contained HTML page, signed");
  const report = await buildReport(line);
  const reportBase = join(tmpdir(), `trustline-demo-report-${Date.now()}`);
  writeFileSync(`${reportBase}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${reportBase}.html`, renderReportHtml(report));
  console.log(`   ${report.issuance.total} issued by ${Object.keys(report.issuance.byOperator).join(", ")} at ${Object.keys(report.issuance.byStation).length} stations; ${report.refusals.total} refused; ${report.revocations.total} revoked; ${report.anomalies.length} anomalies`);
  // alice signs it: the first signed report makes the home's report signer, certified by the root.
  const signedReport = await signReport(incident, `${reportBase}.html`);
  const check = await verifyReport({ report: `${reportBase}.html`, signature: readFileSync(signedReport.signature), trust: [pinnedRoot] });
  console.log(`   signed by the report signer (serial ${signedReport.signer.serial.slice(0, 16)}…): ${signedReport.signature}; verified against the pinned root: ${check.valid ? "valid" : `INVALID (${check.check})`}`);
  if (!check.valid) process.exitCode = 1;
  console.log(`   written (kept after the demo): ${reportBase}.html and ${reportBase}.json`);
  writeFileSync(`${reportBase}.root.pem`, await exportCa(line, "root"));
  console.log(`   check it yourself: openssl cms -verify -binary -inform DER -in ${signedReport.signature} -content ${reportBase}.html -CAfile ${reportBase}.root.pem -purpose any -out /dev/null`);

  step("16. backup: one encrypted, authenticated archive of the home, made while it can keep issuing; checked");
  const archive = join(dir, "pki-backup.tlbk");
  // Demo only: a real schedule reads the backup passphrase from a file (--backup-passphrase-file).
  const backupSecret = { passphrase: "demo backup passphrase - never use in production" };
  const backup = await backupHome(incident, { out: archive, secret: backupSecret });
  const checked = await verifyBackup(archive, backupSecret);
  console.log(`   ${archive}: ${(backup.size / 1024).toFixed(0)} KiB, ${backup.counts.certificates} certificates, ${backup.counts.auditEntries} audit entries; verified: every chunk and file, chain head ${checked.auditHead?.seq ?? "none"}`);

  step("17. several lines, one CA: the home moved into PostgreSQL (store copy), a second line issuing from it");
  if (POSTGRES_MISSING) {
    console.log("   skipped: PostgreSQL is not installed (apt-get install postgresql)");
  } else {
    const server = startPostgres();
    try {
      execFileSync(bin("createdb") ?? "createdb", ["-h", server.host, "-U", "postgres", "plant"], { stdio: "pipe" });
      const url = `postgres:///plant?host=${encodeURIComponent(server.host)}&user=postgres`;
      const stationFolder = join(dir, "line-9-pc");
      const copied = await copyHome({ from: homeDir, to: url, outHome: stationFolder });
      console.log(`   copied ${copied.certificates} certificates, ${copied.revocationEvents} revocation events, ${copied.auditEntries} audit entries; audit verify in the database: intact`);
      const line9 = await Home.open({ home: stationFolder, passphrase, station: "line-9", credential: { kind: "session", token: shift.token } });
      const { privateKey } = newKeyPair("ec", { namedCurve: "P-256" });
      const onPg = await issueDeviceCertificate(line9, createCsr(privateKey, "acme-sensor-line9-0001"), { batch: "DEMO-L9" });
      const pgAudit = await verifyAuditLog(line9);
      await line9.close();
      console.log(`   line-9 issued ${onPg.record.subject} into the shared inventory; the folder holds only ${readdirSync(stationFolder).sort().join(" and ")}; audit log ${pgAudit.intact ? `intact (${pgAudit.entries} entries)` : "NOT intact"}`);
      if (!pgAudit.intact) process.exitCode = 1;
    } finally {
      server.stop();
    }
  }

  console.log(`\nDone.${keep ? ` The home is kept at ${homeDir}` : " (temporary home removed; run with -- --keep to keep it)"}`);
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
