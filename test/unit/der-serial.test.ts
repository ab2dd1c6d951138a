import assert from "node:assert/strict";
import { test } from "node:test";
import { isTrustlineError } from "../../ca/index.js";
import { children, DerError, encodeLength, oid, oidText, readRoot, readTlv, sequence, tlv } from "../../ca/x509/der.js";
import { normalizeSerial, randomSerial, serialHex } from "../../ca/x509/serial.js";

test("X.690 §8.1.3 lengths: short and long forms round-trip", () => {
  for (const n of [0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 24]) {
    const body = new Uint8Array(n);
    const enc = tlv(0x04, body);
    const t = readTlv(enc, 0);
    assert.equal(t.end - t.contentStart, n);
    assert.equal(t.end, enc.length);
  }
  assert.deepEqual([...encodeLength(127)], [0x7f]);
  assert.deepEqual([...encodeLength(128)], [0x81, 0x80]);
  assert.deepEqual([...encodeLength(256)], [0x82, 0x01, 0x00]);
});

test("DER reader refuses non-minimal lengths, truncation and trailing bytes", () => {
  assert.throws(() => readTlv(Uint8Array.of(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), 0), DerError);
  assert.throws(() => readTlv(Uint8Array.of(0x30, 0x05, 0x02, 0x01), 0), DerError);
  assert.throws(() => readRoot(Uint8Array.of(0x30, 0x00, 0x00)), DerError);
  assert.throws(() => readRoot(Uint8Array.of(0x31, 0x00)), DerError);
  const seq = sequence(tlv(0x02, Uint8Array.of(1)), tlv(0x05));
  assert.deepEqual(children(seq, readRoot(seq)).map((c) => c.tag), [0x02, 0x05]);
});

test("OIDs encode and decode, including a 128-bit UUID arc (X.667)", () => {
  for (const dotted of ["1.2.840.10045.4.3.2", "2.5.29.32.0", "2.25.206301899026611410302643436773021168975.1.1", "1.3.6.1.4.1.11591.4.11"]) {
    const enc = oid(dotted);
    assert.equal(enc[0], 0x06);
    assert.equal(oidText(enc.subarray(2)), dotted);
  }
  assert.deepEqual([...oid("1.2.840.10045.4.3.2")], [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
});

test("RFC 5280 §4.1.2.2 serials: 20 octets, positive, random", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const s = randomSerial();
    assert.equal(s.length, 20);
    assert.ok(s[0]! >= 1 && s[0]! <= 0x7f, "positive and minimal: first byte in 01..7f");
    const hex = serialHex(s);
    assert.equal(hex.length, 40);
    seen.add(hex);
  }
  assert.equal(seen.size, 2000);
});

test("serials are accepted in any case, with colons, spaces or 0x", () => {
  const want = "4f1a9c";
  for (const input of ["4F1A9C", "4f:1a:9c", "4F:1A:9C", " 4f 1a 9c ", "0x4F1A9C", "00:4f:1a:9c"]) assert.equal(normalizeSerial(input), want, input);
  assert.equal(normalizeSerial("f1a9c"), "0f1a9c");
  for (const bad of ["", "xyz", "4f-1a", "dev.pem"]) {
    assert.throws(() => normalizeSerial(bad), (e: unknown) => isTrustlineError(e, "INPUT_INVALID"), bad);
  }
});
