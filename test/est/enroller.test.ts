/**
 * The EST enroller on its own (no TLS): the CSR checks on the worker thread give the same answers
 * as the pipeline, follow changes of the home's state, and many requests at once come back each
 * with its own certificate, grouped into few commits.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { after, before, test } from "node:test";
import { createCsr, type Home } from "../../ca/index.js";
import { Enroller } from "../../ca/est/enroller.js";
import { makeHome, tempDir } from "../helpers/pki.js";

const t = tempDir();
let home: Home;
let enroller: Enroller;
const trace = { operator: "alice", station: "line-7", session: null, origin: "est" };
const csr = (cn: string) => createCsr(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, cn);

before(async () => {
  home = await makeHome(t.dir);
  enroller = await Enroller.open(home, "device");
});
after(async () => {
  await enroller.close();
  await home.close();
  t.cleanup();
});

test("a request is issued with the device profile's subject; the record names who, where and how", async () => {
  const e = await enroller.enroll({ csr: csr("dev-0001"), trace });
  assert.ok(e.ok, JSON.stringify(e));
  assert.equal(e.record.subject, "CN=dev-0001");
  assert.equal(e.record.via, "est");
  assert.equal(e.record.operator, "alice");
  assert.equal(e.record.station, "line-7");
  assert.equal(new X509Certificate(e.der).serialNumber.toLowerCase(), e.record.serial);
  assert.equal((await home.inventory.getCertificate(e.record.serial))?.serial, e.record.serial, "durable before the answer");
});

test("refusals carry the pipeline's codes and words: not DER, a broken request, a policy refusal", async () => {
  const notDer = await enroller.enroll({ csr: new TextEncoder().encode("-----BEGIN CERTIFICATE REQUEST-----"), trace });
  assert.deepEqual(notDer.ok ? "issued" : [notDer.code, notDer.message], ["CSR_INVALID", "the file is not a certificate request: neither a PEM CERTIFICATE REQUEST block nor DER"]);
  const tampered = csr("dev-0002");
  tampered[tampered.length - 5]! ^= 0x01; // inside the signature
  const broken = await enroller.enroll({ csr: tampered, trace });
  assert.equal(broken.ok ? "issued" : broken.code, "CSR_INVALID");
  const policy = await enroller.enroll({ csr: csr("bad name with spaces"), trace });
  assert.ok(!policy.ok);
  assert.equal(policy.code, "POLICY_DENIED");
  assert.equal(
    policy.message,
    'the Device identity profile refuses this request:\n  - the common name "bad name with spaces" is not a valid DPS registration ID: use letters, digits and - . _ : only, starting and ending with a letter or digit',
  );
});

test("a renewal keeps the subject: another common name is refused", async () => {
  const first = await enroller.enroll({ csr: csr("dev-0003"), trace });
  assert.ok(first.ok);
  const other = await enroller.enroll({ csr: csr("dev-9999"), trace, renews: first.record });
  assert.ok(!other.ok);
  assert.equal(other.code, "POLICY_DENIED");
  assert.match(other.message, /a renewal keeps the subject: the request names CN=dev-9999, the certificate being renewed CN=dev-0003/);
});

test("200 requests at once: each gets its own certificate, in far fewer commits than requests", async () => {
  const headBefore = (await home.audit.readHead())!.seq;
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => enroller.enroll({ csr: csr(`bulk-${String(i).padStart(4, "0")}`), trace })));
  const issued = results.flatMap((r) => (r.ok ? [r.record] : []));
  assert.equal(issued.length, 200);
  assert.equal(new Set(issued.map((r) => r.serial)).size, 200);
  assert.deepEqual(issued.map((r) => r.commonName), Array.from({ length: 200 }, (_, i) => `bulk-${String(i).padStart(4, "0")}`), "each answer is its own request's");
  const entries = (await home.audit.readHead())!.seq - headBefore;
  const intents = entries - 200; // one issue entry per certificate, one intent per commit
  assert.ok(intents >= 1 && intents <= 50, `${intents} commits for 200 requests`);
});

test("the worker follows the home's state: a new base URL is in the next certificate's AIA", async () => {
  const before = await enroller.enroll({ csr: csr("dev-0004"), trace });
  assert.ok(before.ok);
  assert.ok(new X509Certificate(before.der).infoAccess?.includes(home.state.baseUrl), "the AIA names the base URL");
  await home.transaction(() => home.updateState((s) => ({ ...s, baseUrl: "http://pki.two.example" })));
  const e = await enroller.enroll({ csr: csr("dev-0005"), trace });
  assert.ok(e.ok);
  assert.match(new X509Certificate(e.der).infoAccess ?? "", /URI:http:\/\/pki\.two\.example\//);
});
