/**
 * Property-based fuzzing helpers (fast-check): mutations of valid inputs that reach deep into a
 * parser (byte changes, truncation, insertion, length-byte edits, splices), and the one property
 * every parser of outside input must have: it answers, or refuses with a TrustlineError.
 *
 * FUZZ_RUNS sets the cases per parser (default 10,000); FUZZ_SEED replays a run (a failure prints
 * its seed and path; keep the failing input as a regression case in the parser's test file).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { isTrustlineError } from "../../ca/index.js";

export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
export const FUZZ_SEED = process.env.FUZZ_SEED === undefined ? 0x7157_11e : Number(process.env.FUZZ_SEED);

type Mutation =
  | { kind: "set"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number }
  | { kind: "length"; at: number; delta: number }
  | { kind: "duplicate"; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }) },
  // A length byte nudged: the commonest way to make a DER reader run past its container.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("length" as const), at: fc.nat(), delta: fc.constantFrom(-2, -1, 1, 2, 0x40, 0x80) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }) },
);

function apply(input: Uint8Array, m: Mutation): Uint8Array {
  if (input.length === 0) return input;
  const at = m.at % input.length;
  const b = Buffer.from(input);
  switch (m.kind) {
    case "set":
      b[at] = m.value;
      return b;
    case "truncate":
      return b.subarray(0, at);
    case "insert":
      return Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    case "delete":
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
    case "length":
      // Find the next byte that follows a plausible tag and nudge it.
      b[at] = (b[at]! + m.delta) & 0xff;
      return b;
    case "duplicate":
      return Buffer.concat([b.subarray(0, at + m.length), b.subarray(at, at + m.length), b.subarray(at + m.length)]);
  }
}

/** Inputs derived from `samples` by one to four mutations. */
export function mutated(samples: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.integer({ min: 0, max: samples.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([i, ms]) => ms.reduce((acc, m) => apply(acc, m), samples[i]!));
}

/** Run `parse` on every input; only a TrustlineError may escape. Returns how many inputs were refused. */
export async function fuzz(arbitrary: fc.Arbitrary<Uint8Array>, parse: (input: Uint8Array) => unknown, numRuns = FUZZ_RUNS): Promise<number> {
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(arbitrary, async (input) => {
      try {
        await parse(input);
      } catch (e) {
        if (!isTrustlineError(e)) throw e;
        refused++;
      }
    }),
    { numRuns, seed: FUZZ_SEED, endOnFailure: true },
  );
  return refused;
}

/** The property on a fixed list of inputs (regression cases kept from earlier failures). */
export async function onlyTrustlineErrors(inputs: readonly Uint8Array[], parse: (input: Uint8Array) => unknown): Promise<void> {
  for (const input of inputs) {
    try {
      await parse(input);
    } catch (e) {
      assert.ok(isTrustlineError(e), `${Buffer.from(input).toString("hex").slice(0, 120)}: ${(e as Error).stack}`);
    }
  }
}
