/**
 * OpenSSL as referee for `trustline cert verify`: on a hierarchy made by Trustline itself (a home
 * from makeHome, a generated device, a firmware signer, an expired device, a device under another
 * root), with CRLs made by `openssl ca -gencrl` and by the test factory, both must give the same
 * verdict for every case.
 */
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { exportCa, generateDeviceCertificate, type Home, issueSignerCertificate, pemBlocks, showCa } from "../../ca/index.js";
import { subjectNameDer } from "../../ca/x509/cert-fields.js";
import { crl, DAY, issuerNamed, type KeyPair } from "../helpers/cert-factory.js";
import { FIXED_NOW, makeHome, opensslCsr, PASSPHRASE, reopen, runCli, tempDir } from "../helpers/pki.js";
import { ATTIME, openssl, opensslOk } from "./openssl.js";

const AT_ISO = new Date(Number(ATTIME) * 1000).toISOString();

/** YYYYMMDDHHMMSSZ for `openssl ca -crl_lastupdate`. */
const asn1Time = (d: Date) => `${d.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`;

/** The CA's key, decrypted with the test passphrase, as the factory's KeyPair. */
function caKey(home: Home, keyUri: string): { pair: KeyPair; path: string } {
  const path = resolve(home.dir, keyUri.replace(/^file:/, ""));
  const privateKey = createPrivateKey({ key: opensslOk(["pkey", "-in", path, "-passin", `pass:${PASSPHRASE}`]), format: "pem" });
  const publicKey = createPublicKey(privateKey);
  return { pair: { alg: "p256", privateKey, publicKey, spki: new Uint8Array(publicKey.export({ format: "der", type: "spki" })) }, path };
}

/** A CRL from `openssl ca -gencrl` for the CA `ca` (its certificate and key files), revoking `revoked` (serial hex, subject). */
function opensslCrl(dir: string, caCert: string, keyPath: string, revoked: { serial: string; subject: string; notAfter: Date }[]): string {
  const work = join(dir, "openssl-ca");
  mkdirSync(work, { recursive: true });
  const index = revoked.map((r) => `R\t${asn1Time(r.notAfter).slice(2)}\t${asn1Time(new Date(FIXED_NOW.getTime() - DAY)).slice(2)},keyCompromise\t${r.serial.toUpperCase()}\tunknown\t${r.subject}\n`).join("");
  writeFileSync(join(work, "index.txt"), index);
  writeFileSync(join(work, "crlnumber"), "1000\n");
  writeFileSync(
    join(work, "ca.cnf"),
    `[ca]\ndefault_ca = trustline\n[trustline]\ndatabase = ${work}/index.txt\ncrlnumber = ${work}/crlnumber\ncertificate = ${caCert}\nprivate_key = ${keyPath}\ndefault_md = sha256\ncrl_extensions = crl_ext\n[crl_ext]\nauthorityKeyIdentifier = keyid:always\n`,
  );
  const out = join(dir, "device-ca.crl.pem");
  opensslOk([
    "ca", "-gencrl", "-config", join(work, "ca.cnf"), "-passin", `pass:${PASSPHRASE}`, "-out", out,
    "-crl_lastupdate", asn1Time(new Date(FIXED_NOW.getTime() - DAY)), "-crl_nextupdate", asn1Time(new Date(FIXED_NOW.getTime() + 7 * DAY)),
  ]);
  return out;
}

interface Case {
  readonly name: string;
  readonly cert: string;
  readonly trust: string;
  readonly untrusted?: string;
  readonly crls?: readonly string[];
  readonly purpose: "any" | "client" | "server";
  readonly at?: string;
  /** openssl needs -partial_chain to trust a certificate that is not self-signed. */
  readonly partialChain?: boolean;
  readonly expectValid: boolean;
}

const OPENSSL_PURPOSE = { any: "any", client: "sslclient", server: "sslserver" } as const;

describe("cert verify agrees with openssl verify on a Trustline hierarchy", { timeout: 120_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  const cases: Case[] = [];
  const f = (name: string) => join(dir, name);

  before(async () => {
    ({ dir, cleanup } = tempDir("trustline-interop-verify-"));
    // The CAs from 90 days before the fixed clock, so that a device can have expired by then.
    const home = await makeHome(dir, { clock: () => new Date(FIXED_NOW.getTime() - 90 * DAY) });
    writeFileSync(f("root.pem"), await exportCa(home, "root"));
    writeFileSync(f("device-ca.pem"), await exportCa(home, "device"));
    writeFileSync(f("firmware-ca.pem"), await exportCa(home, "firmware"));
    const dev = await generateDeviceCertificate(home, "dev-0001");
    writeFileSync(f("dev.pem"), dev.pem);
    const doomed = await generateDeviceCertificate(home, "dev-0002");
    writeFileSync(f("doomed.pem"), doomed.pem);
    const signer = await issueSignerCertificate(home, opensslCsr(dir, "signer", "/CN=ci").csr, "ci-release-pipeline");
    writeFileSync(f("signer.pem"), signer.pem);
    // Issued 60 days ago for 30 days: expired at the validation time.
    const past = await reopen(home, { clock: () => new Date(FIXED_NOW.getTime() - 60 * DAY) });
    const expired = await generateDeviceCertificate(past, "dev-old", { validityDays: 30 });
    writeFileSync(f("expired.pem"), expired.pem);
    const { dir: otherDir, cleanup: otherCleanup } = tempDir("trustline-interop-other-");
    try {
      const other = await makeHome(otherDir, { organization: "Other Devices" });
      writeFileSync(f("stranger.pem"), (await generateDeviceCertificate(other, "dev-0001")).pem);
      writeFileSync(f("stranger-ca.pem"), await exportCa(other, "device"));
    } finally {
      otherCleanup();
    }

    // CRLs: the device CA's by `openssl ca -gencrl` (revoking dev-0002), the root's by the factory.
    const deviceCa = await showCa(home, "device");
    const deviceKey = caKey(home, deviceCa.keyUri);
    opensslCrl(dir, f("device-ca.pem"), deviceKey.path, [{ serial: doomed.record.serial, subject: `/CN=dev-0002`, notAfter: new Date(doomed.record.notAfter) }]);
    const rootCa = await showCa(home, "root");
    const rootKey = caKey(home, rootCa.keyUri).pair;
    const rootDer = pemBlocks(readFileSync(f("root.pem"), "latin1"))[0]!.der;
    writeFileSync(f("root.crl.pem"), crl(issuerNamed(subjectNameDer(rootDer), rootKey), { number: 1 }).pem);

    const chain = { trust: "root.pem", untrusted: "device-ca.pem" };
    const both = ["root.crl.pem", "device-ca.crl.pem"];
    cases.push(
      { name: "device, client purpose", cert: "dev.pem", ...chain, purpose: "client", expectValid: true },
      { name: "device, any purpose", cert: "dev.pem", ...chain, purpose: "any", expectValid: true },
      { name: "device, server purpose (EKU clientAuth only)", cert: "dev.pem", ...chain, purpose: "server", expectValid: false },
      { name: "device without its intermediate", cert: "dev.pem", trust: "root.pem", purpose: "any", expectValid: false },
      { name: "device trusting the device CA directly", cert: "dev.pem", trust: "device-ca.pem", purpose: "client", partialChain: true, expectValid: true },
      { name: "device before the hierarchy existed", cert: "dev.pem", ...chain, purpose: "any", at: new Date(FIXED_NOW.getTime() - 10 * DAY).toISOString(), expectValid: false },
      { name: "firmware signer, any purpose", cert: "signer.pem", trust: "root.pem", untrusted: "firmware-ca.pem", purpose: "any", expectValid: true },
      { name: "firmware signer as a TLS client (codeSigning only)", cert: "signer.pem", trust: "root.pem", untrusted: "firmware-ca.pem", purpose: "client", expectValid: false },
      { name: "firmware signer through the device CA", cert: "signer.pem", ...chain, purpose: "any", expectValid: false },
      { name: "expired device", cert: "expired.pem", ...chain, purpose: "client", expectValid: false },
      { name: "expired device at a time it was valid", cert: "expired.pem", ...chain, purpose: "client", at: new Date(FIXED_NOW.getTime() - 45 * DAY).toISOString(), expectValid: true },
      { name: "device under another root", cert: "stranger.pem", trust: "root.pem", untrusted: "stranger-ca.pem", purpose: "client", expectValid: false },
      { name: "device with both CRLs, not revoked", cert: "dev.pem", ...chain, crls: both, purpose: "client", expectValid: true },
      { name: "revoked device (openssl ca -gencrl)", cert: "doomed.pem", ...chain, crls: both, purpose: "client", expectValid: false },
      { name: "device with the device CA's CRL only (root's missing)", cert: "dev.pem", ...chain, crls: ["device-ca.crl.pem"], purpose: "client", expectValid: false },
      { name: "device with the root's CRL only (device CA's missing)", cert: "dev.pem", ...chain, crls: ["root.crl.pem"], purpose: "client", expectValid: false },
    );
  });
  after(() => cleanup?.());

  test("RFC 5280 §6.1 every case gets the same verdict from trustline and openssl, and the expected one", () => {
    const rows: string[] = [];
    for (const c of cases) {
      const at = c.at ?? AT_ISO;
      const ours = runCli([
        "cert", "verify", f(c.cert), "--trust", f(c.trust), ...(c.untrusted ? ["--untrusted", f(c.untrusted)] : []),
        ...(c.crls ?? []).flatMap((x) => ["--crl", f(x)]), "--purpose", c.purpose, "--at", at,
      ]);
      const crlArgs = c.crls ? ["-crl_check_all", ...c.crls.flatMap((x) => ["-CRLfile", f(x)])] : [];
      const theirs = openssl([
        "verify", "-attime", String(Math.floor(new Date(at).getTime() / 1000)), "-purpose", OPENSSL_PURPOSE[c.purpose], "-CAfile", f(c.trust),
        ...(c.untrusted ? ["-untrusted", f(c.untrusted)] : []), ...crlArgs, ...(c.partialChain ? ["-partial_chain"] : []), f(c.cert),
      ]);
      assert.ok([0, 1].includes(ours.status), `${c.name}: trustline exited ${ours.status}: ${ours.stderr}`);
      rows.push(`${c.name}: trustline ${ours.status === 0 ? "valid" : "invalid"} / openssl ${theirs.status === 0 ? "valid" : "invalid"}`);
      assert.equal(ours.status === 0, theirs.status === 0, `${c.name}: trustline and openssl disagree\ntrustline: ${ours.stdout}${ours.stderr}\nopenssl: ${theirs.stdout}${theirs.stderr}`);
      assert.equal(ours.status === 0, c.expectValid, `${c.name}: expected ${c.expectValid ? "valid" : "invalid"}\n${ours.stdout}${ours.stderr}`);
    }
    assert.equal(rows.length, cases.length);
  });

  test("RFC 5280 §6.1.3(a)(3) the revoked device's failure names the CRL entry openssl ca wrote", () => {
    const r = runCli(["--json", "cert", "verify", f("doomed.pem"), "--trust", f("root.pem"), "--untrusted", f("device-ca.pem"), "--crl", f("root.crl.pem"), "--crl", f("device-ca.crl.pem"), "--at", AT_ISO]);
    assert.equal(r.status, 1, r.stdout);
    const doc = JSON.parse(r.stdout) as { error: { code: string; details: { revoked: { reason: string }; check: string } } };
    assert.equal(doc.error.code, "REVOKED");
    assert.equal(doc.error.details.check, "revocation");
    assert.equal(doc.error.details.revoked.reason, "keyCompromise");
  });
});
