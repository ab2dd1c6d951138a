/**
 * A CA home whose keys are in Azure Key Vault: the real @azure/keyvault-keys client (in the CLI's
 * process, trusting the loopback vault's TLS certificate through NODE_EXTRA_CA_CERTS) against a
 * loopback vault that holds real keys. OpenSSL judges the certificates, CRLs, OCSP answers and
 * firmware signatures; the home holds no private key material; a vault that answers 403, 404, a
 * 429 burst or a malformed signature gives a clear error (or, for 429, waits and succeeds) and
 * leaves no half-made CA, record or audit gap.
 *
 * The CLI runs asynchronously throughout: the vault answers from this process's event loop.
 */
import { totpNow } from "../helpers/totp.js";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createCsr, newKeyPair, toPem } from "../../ca/index.js";
import { startFakeKeyVault, type FakeKeyVault } from "../helpers/fake-keyvault.js";
import { findPrivateKeyMaterial } from "../helpers/private-key-scan.js";
import { tempDir } from "../helpers/pki.js";
import { startServeProcess } from "../helpers/serve-process.js";
import { type CliResult, describeRun, expectError, expectOk, json, runCliAsync } from "../cli/cli-helpers.js";
import { openssl, opensslAsync } from "./openssl.js";

describe("a CA home in Azure Key Vault (the real SDK against a loopback vault)", { timeout: 300_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let vault: FakeKeyVault;
  let home: string;
  let env: Record<string, string>;
  let store: string;
  const path = (name: string) => join(t.dir, name);
  const cli = (args: readonly string[], extraEnv: Record<string, string> = {}): Promise<CliResult> => runCliAsync(["--home", home, "--json", ...args], { env: { ...env, ...extraEnv } });
  const sslAsync = async (args: readonly string[]) => opensslAsync(args, { cwd: t.dir }).done;
  const certCount = async () => json<unknown[]>(await cli(["cert", "list"])).length;
  const auditEntries = () => readdirSync(join(home, "audit")).length;

  before(async () => {
    t = tempDir("trustline-akv-home-");
    vault = await startFakeKeyVault();
    writeFileSync(path("vault-ca.pem"), vault.certificate);
    writeFileSync(path("token"), "test-token\n");
    env = { NODE_EXTRA_CA_CERTS: path("vault-ca.pem"), TRUSTLINE_AZURE_TOKEN_FILE: path("token") };
    home = path("pki");
    store = `azure-keyvault://${vault.host}/keys/`;
  });
  after(async () => {
    await vault?.close();
    t?.cleanup();
  });

  test("init --key-store azure-keyvault://…/keys/: every key made in the vault, no passphrase asked", async () => {
    const r = await cli(["--operator", "alice", "init", "--org", "Acme Devices", "--key-store", store, "--roles", "admin,officer,issuer"]);
    expectOk(r);
    const out = json<{ keyStore: string; auditKeyUri: string; cas: { name: string; keyUri: string }[]; firstAdmin: { otpauthUri: string } }>(r);
    // alice opens a shift session: the home's data key is wrapped by an RSA key in the vault, so no passphrase here either.
    expectOk(await cli(["--operator", "alice", "--station", "line-1", "login", "--totp", totpNow(out.firstAdmin.otpauthUri)]));
    const keyUri = new RegExp(`^azure-keyvault://${vault.host.replace(/\./g, "\\.")}/keys/trustline-([a-z]+)-[0-9a-f]{6}/[0-9a-f]{32}$`);
    assert.equal(keyUri.exec(out.auditKeyUri)?.[1], "audit");
    assert.deepEqual(out.cas.map((c) => [c.name, keyUri.exec(c.keyUri)?.[1]]), [["root", "root"], ["device", "device"], ["firmware", "firmware"]]);
    assert.equal(vault.counts.creates, 5, "four signing keys and the data key's wrapping key");
    assert.equal(existsSync(join(home, "keys")), false);
  });

  test("device certificate, CRL and a firmware signer whose key is in the vault: OpenSSL verifies each", async () => {
    writeFileSync(path("root.pem"), json<{ pem: string }>(await cli(["ca", "export", "root"])).pem);
    writeFileSync(path("device-ca.pem"), json<{ pem: string }>(await cli(["ca", "export", "device"])).pem);
    const device = newKeyPair("ec", { namedCurve: "P-256" });
    writeFileSync(path("dev.csr"), toPem(createCsr(device.privateKey, "dev-0001"), "CERTIFICATE REQUEST"));
    expectOk(await cli(["issue", "device", "--csr", path("dev.csr"), "--out", path("dev.pem")]));
    const verified = await sslAsync(["verify", "-x509_strict", "-CAfile", path("root.pem"), "-untrusted", path("device-ca.pem"), "-purpose", "sslclient", path("dev.pem")]);
    assert.equal(verified.status, 0, verified.stderr);

    // The CI signer's key lives in the vault too (imported there); its CSR is made where the key was.
    const ci = newKeyPair("ec", { namedCurve: "P-256" });
    const imported = vault.importKey("ci-signer", ci.privateKey);
    writeFileSync(path("ci.csr"), toPem(createCsr(ci.privateKey, "ci"), "CERTIFICATE REQUEST"));
    expectOk(await cli(["issue", "signer", "--csr", path("ci.csr"), "--name", "ci-pipeline", "--out", path("ci.pem"), "--chain"]));
    writeFileSync(path("fw.bin"), Buffer.alloc(200_000, 3));
    const signed = await runCliAsync(["--json", "firmware", "sign", path("fw.bin"), "--cert", path("ci.pem"), "--key", `azure-keyvault://${vault.host}/keys/ci-signer/${imported.version}`, "--version", "2.0.0", "--hardware", "tc-100", "--security-version", "7"], { env });
    expectOk(signed);
    const cms = await sslAsync(["cms", "-verify", "-binary", "-inform", "DER", "-in", path("fw.bin.p7s"), "-content", path("fw.bin"), "-CAfile", path("root.pem"), "-purpose", "any", "-out", "/dev/null"]);
    assert.equal(cms.status, 0, cms.stderr);
  });

  test("revoked with vault keys: the CRL verifies under OpenSSL and refuses the device; serve's OCSP answer (responder key in the vault) says revoked", async () => {
    const listed = json<{ serial: string; commonName: string }[]>(await cli(["cert", "list"])).find((c) => c.commonName === "dev-0001")!;
    expectOk(await cli(["revoke", listed.serial, "--reason", "keyCompromise"]));
    expectOk(await cli(["crl", "--ca", "device", "--out", path("device.crl")]));
    expectOk(await cli(["crl", "--ca", "root", "--out", path("root.crl")]));
    for (const [crl, issuer] of [["device.crl", "device-ca.pem"], ["root.crl", "root.pem"]] as const) {
      const r = await sslAsync(["crl", "-in", path(crl), "-inform", "DER", "-CAfile", path(issuer), "-noout"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr + r.stdout, /verify OK/);
    }
    openssl(["crl", "-in", path("device.crl"), "-inform", "DER", "-out", path("device-crl.pem")]);
    openssl(["crl", "-in", path("root.crl"), "-inform", "DER", "-out", path("root-crl.pem")]);
    writeFileSync(path("chain.pem"), readFileSync(path("device-ca.pem"), "utf8") + readFileSync(path("root.pem"), "utf8"));
    const refused = await sslAsync(["verify", "-crl_check_all", "-CAfile", path("chain.pem"), "-CRLfile", path("device-crl.pem"), "-CRLfile", path("root-crl.pem"), path("dev.pem")]);
    assert.match(refused.stdout + refused.stderr, /certificate revoked/);

    const server = await startServeProcess(["--home", home], [], { PATH: process.env.PATH ?? "", ...env });
    try {
      const asked = await sslAsync(["ocsp", "-issuer", path("device-ca.pem"), "-cert", path("dev.pem"), "-url", `${server.url}/ocsp/device`, "-CAfile", path("root.pem")]);
      assert.match(asked.stdout, /: revoked/, asked.stdout + asked.stderr + server.stderr());
      assert.match(asked.stderr + asked.stdout, /Response verify OK/);
    } finally {
      await server.stop();
    }
    const state = JSON.parse(readFileSync(join(home, "state.json"), "utf8")) as { responders?: Record<string, { keyUri: string }> };
    assert.ok(Object.keys(state.responders ?? {}).length > 0 && Object.values(state.responders ?? {}).every((r) => r.keyUri.startsWith(`azure-keyvault://${vault.host}/keys/trustline-ocsp-`)), JSON.stringify(state.responders));
  });

  test("no private key material anywhere in the home", () => {
    assert.deepEqual(findPrivateKeyMaterial(home), []);
  });

  test("a 429 burst is waited out (Retry-After honoured) and the issuance succeeds", async () => {
    const before = await certCount();
    writeFileSync(path("dev2.csr"), toPem(createCsr(newKeyPair("ec", { namedCurve: "P-256" }).privateKey, "dev-0002"), "CERTIFICATE REQUEST"));
    vault.failNext(429, 3, { "retry-after": "1" });
    const started = Date.now();
    const r = await cli(["issue", "device", "--csr", path("dev2.csr"), "--out", path("dev2.pem")]);
    expectOk(r);
    assert.ok(Date.now() - started >= 1000, "the client waited for Retry-After");
    assert.equal(await certCount(), before + 1);
  });

  test("403, 404 and a malformed signature: exit 4 with the reason, nothing issued, the audit trail intact", async () => {
    writeFileSync(path("dev3.csr"), toPem(createCsr(newKeyPair("ec", { namedCurve: "P-256" }).privateKey, "dev-0003"), "CERTIFICATE REQUEST"));
    const before = await certCount();
    const entries = auditEntries();
    const issue = () => cli(["issue", "device", "--csr", path("dev3.csr"), "--out", path("dev3.pem")]);

    vault.failNext(403, 50);
    const forbidden = expectError(await issue(), 4, "AUTH_REQUIRED");
    assert.match(forbidden.message, /keys\/get|keys\/sign/);
    vault.clearFailures();

    vault.malformedSignatures = true;
    const malformed = await issue();
    vault.malformedSignatures = false;
    const e = expectError(malformed, 4, "KEY_UNAVAILABLE");
    assert.match(e.message, /does not verify/);

    assert.equal(await certCount(), before);
    assert.equal(existsSync(path("dev3.pem")), false);
    const verified = await cli(["audit", "verify"]);
    assert.equal(verified.status, 0, describeRun(verified));
    assert.ok(auditEntries() >= entries);

    const missing = expectError(await runCliAsync(["--json", "ca", "create", "line-7", "--profile", "device-ca", "--key", `azure-keyvault://${vault.host}/keys/no-such-key`, "--home", home], { env }), 4, "KEY_UNAVAILABLE");
    assert.match(missing.message, /no such key/);
    const state = JSON.parse(readFileSync(join(home, "state.json"), "utf8")) as { cas: Record<string, unknown> };
    assert.equal(Object.hasOwn(state.cas, "line-7"), false);
  });
});
