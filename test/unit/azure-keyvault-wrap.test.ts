/**
 * The home's data key wrapped by a Key Vault RSA key (RSA-OAEP-256): the real @azure/keyvault-keys
 * client, in a child process that trusts the loopback vault, against a fake vault that wraps and
 * unwraps for real. Held to: the value round-trips and each wrap differs; an altered or
 * misdirected value is KEY_UNAVAILABLE unwrap-failed; another process reopens the key by its
 * versioned URI; the key is made for wrapKey/unwrapKey only (RSA-HSM when the store asks).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type FakeKeyVault, startFakeKeyVault } from "../helpers/fake-keyvault.js";
import { ChildKeyError, type KeyBackendsProcess, startKeyBackendsProcess } from "../helpers/key-backends-process.js";
import { tempDir } from "../helpers/pki.js";

const unwrapFailed = (uri: string) => (e: unknown) => e instanceof ChildKeyError && e.code === "KEY_UNAVAILABLE" && e.details.reason === "unwrap-failed" && e.details.uri === uri;

describe("the data key wrapped by an RSA key in Azure Key Vault (the real SDK against a loopback vault)", { timeout: 60_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let vault: FakeKeyVault;
  let env: Record<string, string>;
  let store: string;
  let first: KeyBackendsProcess;
  const started: KeyBackendsProcess[] = [];
  const fresh = () => {
    const p = startKeyBackendsProcess(env);
    started.push(p);
    return p;
  };
  /** The key as the vault holds it (GET {kid}), read with the vault's token. */
  const vaultKey = (uri: string) =>
    new Promise<{ key: { kty: string; key_ops: string[]; n: string } }>((resolve, reject) => {
      const path = new URL(uri.replace(/^azure-keyvault:/, "https:")).pathname;
      request(`${vault.url}${path}?api-version=7.5`, { agent: vault.loopback.agent, headers: { authorization: "Bearer test-token" } }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c));
        res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`GET ${path}: ${res.statusCode}`))));
      })
        .on("error", reject)
        .end();
    });

  before(async () => {
    t = tempDir("trustline-akv-wrap-");
    vault = await startFakeKeyVault();
    writeFileSync(join(t.dir, "vault-ca.pem"), vault.certificate);
    writeFileSync(join(t.dir, "token"), "test-token\n");
    env = { NODE_EXTRA_CA_CERTS: join(t.dir, "vault-ca.pem"), TRUSTLINE_AZURE_TOKEN_FILE: join(t.dir, "token") };
    store = `azure-keyvault://${vault.host}/keys/`;
    first = fresh();
  });
  after(async () => {
    await Promise.all(started.map((p) => p.close()));
    await vault?.close();
    t?.cleanup();
  });

  test("32 bytes round-trip through the vault; each wrap differs (OAEP is randomised)", async () => {
    const uri = await first.createWrapper("data-key", store);
    assert.match(uri, new RegExp(`^azure-keyvault://${vault.host.replace(/\./g, "\\.")}/keys/trustline-data-key-[0-9a-f]{6}/[0-9a-f]{32}$`));
    const dataKey = randomBytes(32);
    const { wraps, unwraps } = vault.counts;
    const wrapped = await first.wrap(uri, dataKey);
    const again = await first.wrap(uri, dataKey);
    assert.equal(wrapped.length, 384, "one RSA 3072 block");
    assert.equal(vault.counts.wraps, wraps + 2, "the vault wrapped");
    assert.notDeepEqual(wrapped, again);
    assert.deepEqual(await first.unwrap(uri, wrapped), dataKey);
    assert.deepEqual(await first.unwrap(uri, again), dataKey);
    assert.equal(vault.counts.unwraps, unwraps + 2, "the vault unwrapped");
  });

  test("the wrapping key is RSA 3072 with key_ops wrapKey and unwrapKey only; hsm=true makes it RSA-HSM", async () => {
    const creates = () => vault.loopback.requests.filter((r) => r.method === "POST" && r.path.endsWith("/create") && r.status === 200);
    const before = creates().length;
    const uri = await first.createWrapper("data-key", store);
    const asked = creates()[before]!.body as { kty: string; key_size: number; key_ops: string[] };
    assert.deepEqual([asked.kty, asked.key_size, asked.key_ops], ["RSA", 3072, ["wrapKey", "unwrapKey"]]);
    const held = await vaultKey(uri);
    assert.deepEqual(held.key.key_ops, ["wrapKey", "unwrapKey"]);
    assert.equal(Buffer.from(held.key.n, "base64url").length, 384);
    const hsmUri = await first.createWrapper("data-key", `${store}?hsm=true`);
    assert.equal((await vaultKey(hsmUri)).key.kty, "RSA-HSM");
  });

  test("a flipped byte, a truncated value or another key's value: KEY_UNAVAILABLE, unwrap-failed", async () => {
    const uri = await first.createWrapper("data-key", store);
    const wrapped = await first.wrap(uri, randomBytes(32));
    for (const at of [0, 100, wrapped.length - 1]) {
      const altered = Buffer.from(wrapped);
      altered[at]! ^= 0x01;
      await assert.rejects(first.unwrap(uri, altered), unwrapFailed(uri), `byte ${at}`);
    }
    await assert.rejects(first.unwrap(uri, wrapped.subarray(0, 200)), unwrapFailed(uri));
    const other = await first.createWrapper("other", store);
    await assert.rejects(first.unwrap(other, wrapped), unwrapFailed(other));
  });

  test("another process opens the wrapper by its versioned URI and unwraps what the first wrapped; a signing key or an unversioned URI is refused", async () => {
    const uri = await first.createWrapper("data-key", store);
    const dataKey = randomBytes(32);
    const wrapped = await first.wrap(uri, dataKey);
    const second = fresh();
    const unwrapsBefore = vault.counts.unwraps;
    assert.deepEqual(await second.unwrap(uri, wrapped), dataKey);
    assert.equal(vault.counts.unwraps, unwrapsBefore + 1, "the vault unwrapped it");
    await assert.rejects(second.unwrap(uri.replace(/\/[0-9a-f]{32}$/, ""), wrapped), (e: unknown) => e instanceof ChildKeyError && e.code === "USAGE" && /one key version/.test(e.message));
    const signing = vault.importKey("ca-signing-key", (await import("node:crypto")).generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey);
    await assert.rejects(second.unwrap(`azure-keyvault://${vault.host}/keys/${signing.name}/${signing.version}`, wrapped), (e: unknown) => e instanceof ChildKeyError && e.code === "KEY_UNAVAILABLE" && /does not allow wrapKey and unwrapKey/.test(e.message));
    const missing = uri.replace(/trustline-data-key-[0-9a-f]{6}/, "trustline-data-key-000000");
    await assert.rejects(second.unwrap(missing, wrapped), (e: unknown) => e instanceof ChildKeyError && e.code === "KEY_UNAVAILABLE" && e.details.status === 404);
  });
});
