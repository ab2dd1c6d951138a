/**
 * The home's data key wrapped by a token (SoftHSM2): a home whose keys are all on a token has no
 * passphrase, so an AES key object on the token is what keeps the data key sealed. These tests
 * hold the backend to that: the value round-trips, each wrap differs (fresh IV), an altered or
 * misdirected value is refused as unwrap-failed, a fresh process-side backend reopens the key by
 * its URI, and the token itself says the key can never leave it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import { isTrustlineError } from "../../ca/errors.js";
import { KeyBackends } from "../../ca/keys/registry.js";
import { parsePkcs11Uri } from "../../ca/keys/pkcs11/uri.js";
import { softhsm, type SoftHsm, softhsmModule, TOKEN_PIN } from "../helpers/softhsm.js";

const module = softhsmModule();

const unwrapFailed = (uri: string) => (e: unknown) => isTrustlineError(e, "KEY_UNAVAILABLE") && e.details.reason === "unwrap-failed" && e.details.uri === uri;

describe("the data key wrapped by an AES key on a PKCS#11 token (SoftHSM2)", { skip: "skip" in module ? module.skip : false, timeout: 60_000 }, () => {
  let hsm: SoftHsm;
  let backends: KeyBackends;
  const store = "pkcs11:token=wrap-token";
  const fresh = () => new KeyBackends({ homeDir: hsm.dir, env: { ...hsm.env } });

  before(() => {
    hsm = softhsm((module as { path: string }).path);
    hsm.token("wrap-token");
    backends = fresh();
  });
  after(async () => {
    await backends?.close();
    hsm?.cleanup();
  });

  test("32 bytes round-trip; each wrap differs (fresh IV) and is iv || ciphertext || tag", async () => {
    const wrapper = await backends.createWrapper("data-key", store);
    assert.match(wrapper.uri, /^pkcs11:token=wrap-token;object=trustline-data-key-[0-9a-f]{6};id=(%[0-9a-f]{2}){16};type=secret-key$/);
    const dataKey = randomBytes(32);
    const first = await wrapper.wrap(dataKey);
    const second = await wrapper.wrap(dataKey);
    assert.equal(first.length, 12 + 32 + 16);
    assert.notDeepEqual(Buffer.from(first), Buffer.from(second));
    assert.deepEqual(Buffer.from(await wrapper.unwrap(first)), dataKey);
    assert.deepEqual(Buffer.from(await wrapper.unwrap(second)), dataKey);
  });

  test("a flipped byte anywhere (IV, ciphertext, tag), a short value, or another key's value: KEY_UNAVAILABLE, unwrap-failed", async () => {
    const wrapper = await backends.createWrapper("data-key", store);
    const wrapped = Buffer.from(await wrapper.wrap(randomBytes(32)));
    for (const at of [0, 11, 12, 30, wrapped.length - 1]) {
      const altered = Buffer.from(wrapped);
      altered[at]! ^= 0x01;
      await assert.rejects(wrapper.unwrap(altered), unwrapFailed(wrapper.uri), `byte ${at}`);
    }
    await assert.rejects(wrapper.unwrap(wrapped.subarray(0, 20)), unwrapFailed(wrapper.uri));
    const other = await backends.createWrapper("other", store);
    await assert.rejects(other.unwrap(wrapped), unwrapFailed(other.uri));
    // The session that saw the failures still works.
    assert.equal((await wrapper.unwrap(await wrapper.wrap(Buffer.alloc(32, 7)))).length, 32);
  });

  test("openWrapper(uri) from a fresh KeyBackends unwraps what the first wrapped; a missing object is named", async () => {
    const wrapper = await backends.createWrapper("data-key", store);
    const dataKey = randomBytes(32);
    const wrapped = await wrapper.wrap(dataKey);
    const again = fresh();
    try {
      const reopened = await again.openWrapper(wrapper.uri);
      assert.equal(reopened.uri, wrapper.uri);
      assert.deepEqual(Buffer.from(await reopened.unwrap(wrapped)), dataKey);
      const missing = wrapper.uri.replace(/object=trustline-data-key-[0-9a-f]{6}/, "object=trustline-data-key-000000");
      await assert.rejects(again.openWrapper(missing), (e: unknown) => isTrustlineError(e, "KEY_UNAVAILABLE") && /no key-encryption key "trustline-data-key-000000"/.test(e.message));
      // A signing key's URI is not a key-encryption key's, and the other way round.
      await assert.rejects(again.openWrapper(wrapper.uri.replace("type=secret-key", "type=private")), (e: unknown) => isTrustlineError(e, "USAGE"));
      await assert.rejects(again.describe(wrapper.uri), (e: unknown) => isTrustlineError(e, "USAGE") && /key-encryption key/.test(e.message));
    } finally {
      await again.close();
    }
  });

  test("the token says the key object never leaves it: sensitive, not extractable, CKA_VALUE refused", async () => {
    const wrapper = await backends.createWrapper("data-key", store);
    const { object } = parsePkcs11Uri(wrapper.uri);
    const dataKey = randomBytes(32);
    const wrapped = await wrapper.wrap(dataKey);
    // Release the backend's hold on the module so this test can initialise and finalise it alone.
    await backends.close();
    const pkcs11 = createRequire(import.meta.url)("pkcs11js") as typeof import("pkcs11js");
    const p11 = new pkcs11.PKCS11();
    p11.load(hsm.modulePath);
    p11.C_Initialize();
    try {
      const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === "wrap-token");
      assert.ok(slot, "the token is present");
      const session = p11.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION);
      p11.C_Login(session, pkcs11.CKU_USER, TOKEN_PIN);
      p11.C_FindObjectsInit(session, [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_SECRET_KEY }, { type: pkcs11.CKA_LABEL, value: object! }]);
      const found = p11.C_FindObjects(session, 2);
      p11.C_FindObjectsFinal(session);
      assert.equal(found.length, 1);
      const flags = p11.C_GetAttributeValue(session, found[0]!, [
        { type: pkcs11.CKA_SENSITIVE },
        { type: pkcs11.CKA_EXTRACTABLE },
        { type: pkcs11.CKA_ALWAYS_SENSITIVE },
        { type: pkcs11.CKA_NEVER_EXTRACTABLE },
        { type: pkcs11.CKA_TOKEN },
        { type: pkcs11.CKA_PRIVATE },
        { type: pkcs11.CKA_ENCRYPT },
        { type: pkcs11.CKA_DECRYPT },
        { type: pkcs11.CKA_WRAP },
        { type: pkcs11.CKA_SIGN },
      ]).map((a) => (a.value as Buffer)[0]);
      assert.deepEqual(flags, [1, 0, 1, 1, 1, 1, 1, 1, 0, 0]);
      assert.equal(p11.C_GetAttributeValue(session, found[0]!, [{ type: pkcs11.CKA_VALUE_LEN }])[0]!.value!.length > 0, true);
      assert.throws(() => p11.C_GetAttributeValue(session, found[0]!, [{ type: pkcs11.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
      p11.C_CloseSession(session);
    } finally {
      p11.C_Finalize();
      p11.close();
    }
    // The backend opens the token again after all that.
    backends = fresh();
    assert.deepEqual(Buffer.from(await (await backends.openWrapper(wrapper.uri)).unwrap(wrapped)), dataKey);
  });
});
