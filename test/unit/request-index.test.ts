/** The batch's memory of issued requests: exact answers in a compact form. */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import { RequestIndex } from "../../ca/batch/request-index.js";

test("every request maps back to its serial; absent requests are absent", () => {
  const index = new RequestIndex();
  const entries = Array.from({ length: 2000 }, (_, i) => [createHash("sha256").update(`csr-${i}`).digest("hex"), randomBytes(20).toString("hex").replace(/^../, "7f")] as const);
  for (const [request, serial] of entries) index.set(request, serial);
  assert.equal(index.size, 2000);
  for (const [request, serial] of entries) {
    assert.equal(index.get(request), serial);
    assert.ok(index.has(request));
  }
  const other = createHash("sha256").update("never issued").digest("hex");
  assert.equal(index.get(other), undefined);
  assert.equal(index.has(other), false);
});

test("its map survives a structured clone (what a worker receives) and answers the same", () => {
  const index = new RequestIndex();
  const request = createHash("sha256").update("csr").digest("hex");
  index.set(request, "01ab");
  const copy = new RequestIndex(structuredClone(index.map));
  assert.equal(copy.get(request), "01ab");
});
