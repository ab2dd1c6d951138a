/**
 * The home's data key: 32 random bytes that seal operators' TOTP seeds and token hashes. It is kept
 * only wrapped, by a key-encryption key of the home's key store: the passphrase for a home of key
 * files, an AES key on the token or an RSA key in the vault otherwise, so reading the home's files
 * gives no seed and no token hash.
 */
import type { KeyBackends } from "../keys/registry.js";
import { newDataKey } from "./sealed.js";

export interface WrappedDataKey {
  /** The key-encryption key's URI (`file:passphrase`, a pkcs11: or azure-keyvault:// key). */
  readonly wrapper: string;
  /** base64 */
  readonly wrapped: string;
}

/** A new data key, wrapped at `store` (the home's key store). */
export async function createDataKey(keys: KeyBackends, store: string): Promise<{ key: Buffer; record: WrappedDataKey }> {
  const wrapper = await keys.createWrapper("data-key", store);
  const key = newDataKey();
  const wrapped = await wrapper.wrap(key);
  return { key, record: { wrapper: wrapper.uri, wrapped: Buffer.from(wrapped).toString("base64") } };
}

/** The data key, unwrapped by the backend that holds its key-encryption key. */
export async function openDataKey(keys: KeyBackends, record: WrappedDataKey): Promise<Buffer> {
  const wrapper = await keys.openWrapper(record.wrapper);
  return Buffer.from(await wrapper.unwrap(Buffer.from(record.wrapped, "base64")));
}
