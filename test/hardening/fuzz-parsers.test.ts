/**
 * Property-based fuzzing of every parser that reads outside input (issue 12 §6): CSR, certificate
 * (as `cert verify` and `cert show` read it), CRL (as a path validation and a CRL tool read it),
 * OCSP request (as `serve` answers it), CMS firmware signature (as `firmware verify` reads it), PEM,
 * DPS error bodies, and key URIs. Valid inputs made here are mutated; the only exception allowed out is a
 * TrustlineError. FUZZ_RUNS cases each (default 10,000), fixed seed (FUZZ_SEED to replay).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import {
  createCsr,
  dersOf,
  exportCa,
  generateDeviceCertificate,
  type Home,
  issueCrl,
  parseCsr,
  pemBlocks,
  revokeCertificate,
  showCertificate,
  startServer,
  type RunningServer,
  toPem,
  validatePath,
  verifyFirmware,
  signFirmware,
} from "../../ca/index.js";
import { describeRemoteFailure } from "../../ca/dps/remote-errors.js";
import { parseCrl } from "../../ca/revocation/crl-codec.js";
import { keyObjectSigner } from "../../ca/keys/signer.js";
import { parsePkcs11Uri } from "../../ca/keys/pkcs11/uri.js";
import { parseVaultKeyUri } from "../../ca/keys/azure-keyvault/uri.js";
import { keyScheme } from "../../ca/keys/registry.js";
import { isTrustlineError } from "../../ca/errors.js";
import { ecKey, FIXED_NOW, makeHome, reopen, tempDir } from "../helpers/pki.js";
import { writeSigner } from "../helpers/firmware-signer.js";
import { FUZZ_RUNS, fuzz, mutated } from "./fuzz-helpers.js";

const der = (pem: string) => dersOf(Buffer.from(pem), "CERTIFICATE")[0]!;

describe("fuzzing the parsers of outside input: only TrustlineErrors escape", { timeout: 600_000 }, () => {
  let t: { dir: string; cleanup: () => void };
  let home: Home;
  let live: Home;
  let server: RunningServer;
  const samples: Record<string, Uint8Array[]> = {};
  let rootDer: Uint8Array;
  let image: string;

  before(async () => {
    t = tempDir("trustline-fuzz-");
    home = await makeHome(t.dir);
    live = await reopen(home, { clock: () => new Date() });
    const device = await generateDeviceCertificate(home, "dev-fuzz-01");
    const revoked = await generateDeviceCertificate(home, "dev-fuzz-02");
    await revokeCertificate(home, revoked.record.serial, { reason: "keyCompromise" });
    rootDer = der(await exportCa(home, "root"));
    const csrs = [createCsr(ecKey().privateKey, "dev-fuzz-csr"), createCsr(ecKey("P-384").privateKey, "dev-fuzz-csr-384")];
    samples.csr = [...csrs, new TextEncoder().encode(toPem(csrs[0]!, "CERTIFICATE REQUEST"))];
    samples.certificate = [device.der, der(await exportCa(home, "device")), rootDer];
    const crl = (await issueCrl(home, "device")).der;
    samples.crl = [crl, (await issueCrl(home, "root")).der];
    // An OCSP request as OpenSSL makes it (no nonce, and with one).
    writeFileSync(join(t.dir, "dev.pem"), device.pem);
    writeFileSync(join(t.dir, "device-ca.pem"), await exportCa(home, "device"));
    const request = (nonce: boolean) => {
      execFileSync("openssl", ["ocsp", "-issuer", join(t.dir, "device-ca.pem"), "-cert", join(t.dir, "dev.pem"), ...(nonce ? [] : ["-no_nonce"]), "-reqout", join(t.dir, "req.der")]);
      return new Uint8Array(readFileSync(join(t.dir, "req.der")));
    };
    samples.ocsp = [request(false), request(true)];
    server = await startServer(live, { port: 0 });
    // A firmware signature over a small image, by a signer this home issued.
    image = join(t.dir, "image.bin");
    writeFileSync(image, Buffer.alloc(2048, 0x5a));
    const signer = await writeSigner(home, t.dir, "ci-fuzz");
    const { createPrivateKey } = await import("node:crypto");
    const key = createPrivateKey(readFileSync(signer.keyPath));
    const signed = await signFirmware({ image, certificate: readFileSync(signer.certPath), signer: keyObjectSigner(key, "ecdsa-p256-sha256", await spkiOf(signer.leafPath)), clock: () => FIXED_NOW });
    samples.cms = [signed.der];
  });
  after(async () => {
    await server?.close();
    t.cleanup();
  });

  test(`RFC 2986 CSR: parseCsr, ${FUZZ_RUNS} mutations`, async () => {
    const refused = await fuzz(mutated(samples.csr!), (input) => parseCsr(input));
    assert.ok(refused > FUZZ_RUNS / 2, `${refused} refused`);
  });

  test(`RFC 5280 certificate: cert verify's path validation and cert show, ${FUZZ_RUNS} mutations`, async () => {
    await fuzz(mutated(samples.certificate!), async (input) => {
      validatePath(input, { trustAnchors: [rootDer], time: FIXED_NOW, revocation: "off" });
      await showCertificate(home, { certificate: input });
    });
  });

  test(`RFC 5280 CRL: the CRL decoder and path validation with the CRL, ${FUZZ_RUNS} mutations`, async () => {
    await fuzz(mutated(samples.crl!), (input) => {
      parseCrl(input);
      validatePath(samples.certificate![0]!, { trustAnchors: [rootDer], intermediates: [samples.certificate![1]!], crls: [input], time: FIXED_NOW });
    });
  });

  test(`RFC 6960 OCSP request: the responder answers every mutation, ${FUZZ_RUNS} of them`, async () => {
    await fuzz(mutated(samples.ocsp!), async (input) => {
      const answer = await server.responder.respond("device", input);
      assert.equal(answer[0], 0x30, "an OCSPResponse");
    });
  });

  test(`RFC 5652 CMS firmware signature: firmware verify, ${FUZZ_RUNS} mutations`, async () => {
    await fuzz(mutated(samples.cms!), async (input) => {
      await verifyFirmware({ image, signature: input, trust: [rootDer], revocation: "off", now: FIXED_NOW });
    });
  });

  test(`RFC 7468 PEM: every decoder of PEM text, ${FUZZ_RUNS} inputs of PEM pieces`, async () => {
    const piece = fc.constantFrom("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n", "-----BEGIN X509 CRL-----", "-----END X509 CRL-----", "-----", "MIIB", "AAAA\n", "=", "\r\n", " ", "é", "\u0000");
    const text = fc.array(piece, { maxLength: 40 }).map((parts) => new TextEncoder().encode(parts.join("")));
    await fuzz(text, (input) => {
      pemBlocks(Buffer.from(input).toString("latin1"));
      dersOf(input, "CERTIFICATE");
      parseCsr(input);
    });
  });

  test(`key URIs (RFC 7512 PKCS#11, Key Vault, the registry's scheme): ${FUZZ_RUNS} recombined pieces, refused only with USAGE`, async () => {
    const piece = fc.constantFrom("pkcs11:", "azure-keyvault://", "file:", "token=", "object=", "id=", ";", "?", "&", "=", "%", "%2", "%ff", "%00", "/keys/", "/", ":", "8443", "127.0.0.1", "v.vault.azure.net", "hsm=true", "pin-value=1", "pin-source=file:", "module-path=/x", "type=private", "a", "é", "\u0000", " ", "0a".repeat(16));
    const text = fc.array(piece, { maxLength: 24 }).map((parts) => new TextEncoder().encode(parts.join("")));
    await fuzz(text, (input) => {
      const uri = Buffer.from(input).toString("utf8");
      for (const parse of [parsePkcs11Uri, parseVaultKeyUri, keyScheme]) {
        try {
          parse(uri);
        } catch (e) {
          if (!isTrustlineError(e, "USAGE")) throw e;
        }
      }
    });
  });

  test(`DPS and ARM error bodies: whatever JSON (or not) a service returns is described, ${FUZZ_RUNS} bodies`, async () => {
    const body = fc.oneof(fc.json(), fc.string(), fc.jsonValue().map((v) => JSON.stringify({ error: v, errorCode: v, trackingId: v, message: v })));
    await fc.assert(
      fc.property(body, (b) => {
        const d = describeRemoteFailure({ statusCode: 400, responseBody: b });
        assert.equal(d.status, 400);
        assert.ok(d.serviceMessage === undefined || d.serviceMessage.length <= 300);
      }),
      { numRuns: FUZZ_RUNS, seed: 1 },
    );
  });
});

async function spkiOf(certPath: string): Promise<Uint8Array> {
  const { X509Certificate } = await import("node:crypto");
  return new Uint8Array(new X509Certificate(readFileSync(certPath)).publicKey.export({ format: "der", type: "spki" }));
}
