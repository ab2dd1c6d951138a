/** Shared by the path validation tests: validate at the fixed clock, and assert outcomes with useful failure messages. */
import assert from "node:assert/strict";
import { validatePath, type InvalidPath, type ValidationOptions, type ValidationResult, type ValidPath } from "../../ca/index.js";
import type { Issued, IssuedCrl } from "./cert-factory.js";
import { FIXED_NOW } from "./pki.js";

export interface Setup extends Omit<ValidationOptions, "trustAnchors" | "intermediates" | "crls"> {
  readonly anchors: readonly Issued[];
  readonly intermediates?: readonly Issued[];
  readonly crls?: readonly IssuedCrl[];
}

/** validatePath at FIXED_NOW (unless `time` is given). */
export function validate(target: Issued, setup: Setup): ValidationResult {
  const { anchors, intermediates, crls, ...rest } = setup;
  return validatePath(target.der, {
    time: FIXED_NOW,
    ...rest,
    trustAnchors: anchors.map((a) => a.der),
    intermediates: (intermediates ?? []).map((c) => c.der),
    crls: (crls ?? []).map((c) => c.der),
  });
}

const show = (r: ValidationResult) => JSON.stringify(r.valid ? { valid: true, path: r.path.map((p) => p.subject), policies: r.policies } : { ...r, checks: undefined, path: r.path.map((p) => p.subject) }, null, 2);

export function assertValid(r: ValidationResult): ValidPath {
  assert.equal(r.valid, true, `expected a valid path, got:\n${show(r)}`);
  return r as ValidPath;
}

/** Assert a failure of `check` (and, when given, at path index `index`). */
export function assertInvalid(r: ValidationResult, check: string, index?: number): InvalidPath {
  assert.equal(r.valid, false, `expected failure "${check}", got a valid path:\n${show(r)}`);
  const f = r as InvalidPath;
  assert.equal(f.check, check, `expected failure "${check}", got:\n${show(r)}`);
  if (index !== undefined) assert.equal(f.failing.index, index, `expected the failure at index ${index}:\n${show(r)}`);
  assert.ok(f.reason.length > 15, `the reason is not a sentence: ${f.reason}`);
  assert.match(f.rfcSection, /^\d/);
  return f;
}

/** The subjects of a valid path, target first. */
export const pathSubjects = (r: ValidPath): string[] => r.path.map((p) => p.subject);
