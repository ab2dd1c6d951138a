/** Key Vault key URIs: keys, stores, HSM stores, loopback vaults; what is refused and why. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isTrustlineError } from "../../ca/errors.js";
import { parseVaultKeyUri } from "../../ca/keys/azure-keyvault/uri.js";
import { keyScheme } from "../../ca/keys/registry.js";

test("keys with and without version, stores, HSM stores, loopback vaults with a port", () => {
  assert.deepEqual(parseVaultKeyUri("azure-keyvault://acme-pki.vault.azure.net/keys/device-ca"), { vaultUrl: "https://acme-pki.vault.azure.net", host: "acme-pki.vault.azure.net", name: "device-ca", hsm: false, loopback: false });
  assert.deepEqual(parseVaultKeyUri(`azure-keyvault://acme-pki.vault.azure.net/keys/device-ca/${"0a".repeat(16)}`).version, "0a".repeat(16));
  assert.deepEqual(parseVaultKeyUri("azure-keyvault://acme.managedhsm.azure.net/keys/?hsm=true"), { vaultUrl: "https://acme.managedhsm.azure.net", host: "acme.managedhsm.azure.net", hsm: true, loopback: false });
  assert.deepEqual(parseVaultKeyUri("azure-keyvault://127.0.0.1:8443/keys/"), { vaultUrl: "https://127.0.0.1:8443", host: "127.0.0.1:8443", hsm: false, loopback: true });
});

test("refused with the reason", () => {
  const refused = (uri: string, why: RegExp) => assert.throws(() => parseVaultKeyUri(uri), (e: unknown) => isTrustlineError(e, "USAGE") && why.test(e.message), uri);
  refused("azure-keyvault://vault.azure.net/secrets/x", /the form is/);
  refused("azure-keyvault://bad_host/keys/x", /not a host name/);
  refused("azure-keyvault://v.vault.azure.net:70000/keys/x", /out of range/);
  refused("azure-keyvault://v.vault.azure.net/keys/a_b", /1-127 letters, digits and -/);
  refused("azure-keyvault://v.vault.azure.net/keys/a/v1", /not a Key Vault version/);
  refused("azure-keyvault://v.vault.azure.net/keys/a/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a/x", /too many path segments/);
  refused("azure-keyvault://v.vault.azure.net/keys/?tier=gold", /unknown query/);
  refused(`azure-keyvault://${"a-".repeat(600)}/keys/x`, /longer than 1024 characters/);
});

test("the registry knows the three schemes and names them when given another", () => {
  assert.deepEqual(["file:", "azure-keyvault://v/keys/", "pkcs11:token=t"].map(keyScheme), ["file", "azure-keyvault", "pkcs11"]);
  assert.throws(() => keyScheme("hsm://x"), (e: unknown) => isTrustlineError(e, "USAGE") && /file:, azure-keyvault:\/\/.*pkcs11:/.test(e.message));
});
