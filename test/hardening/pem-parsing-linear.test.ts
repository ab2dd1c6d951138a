/**
 * PEM parsing is linear in its input (RFC 7468 blocks found in one pass). A regular expression that
 * looked ahead from every BEGIN for its END took 42 s on a 2.2 MB file of unclosed blocks; the bound
 * below is generous for a loaded machine and still far below what quadratic work takes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { dersOf, pemBlocks } from "../../ca/index.js";

const HOSTILE: readonly [string, string][] = [
  ["80,000 unclosed BEGIN lines", "-----BEGIN CERTIFICATE-----\n".repeat(80_000)],
  ["alternating labels, never closed", "-----BEGIN A-----\n-----BEGIN B-----\n".repeat(60_000)],
  ["440,000 bare dash runs", "-----".repeat(440_000)],
  ["ENDs without BEGINs", "-----END CERTIFICATE-----\n".repeat(85_000)],
  ["one block of 2.2 MB never closed", `-----BEGIN CERTIFICATE-----\n${"A".repeat(2_200_000)}`],
];

for (const [name, text] of HOSTILE) {
  test(`RFC 7468: ${name} (${(text.length / 1e6).toFixed(1)} MB) parses to nothing, in linear time`, () => {
    const started = performance.now();
    assert.deepEqual(pemBlocks(text), []);
    // Without any BEGIN the input is taken for DER, as it is (and refused by the DER reader).
    if (text.includes("-----BEGIN ")) assert.deepEqual(dersOf(Buffer.from(text, "latin1"), "CERTIFICATE"), []);
    const ms = performance.now() - started;
    assert.ok(ms < 2_000, `${ms.toFixed(0)} ms`);
  });
}

test("RFC 7468: blocks are found in order, a block left open is dropped when the next one begins, labels must match", () => {
  const text = [
    "junk before",
    "-----BEGIN CERTIFICATE-----", "AAEC", // never closed: replaced by the next BEGIN
    "-----BEGIN CERTIFICATE-----", "AwQF", "-----END CERTIFICATE-----",
    "-----BEGIN X509 CRL-----", "Bgc=", "-----END CERTIFICATE-----", // wrong END: not a block
    "-----BEGIN X509 CRL-----", "CAk=", "-----END X509 CRL-----",
  ].join("\n");
  const blocks = pemBlocks(text);
  assert.deepEqual(blocks.map((b) => [b.label, [...b.der]]), [["CERTIFICATE", [3, 4, 5]], ["X509 CRL", [8, 9]]]);
});
