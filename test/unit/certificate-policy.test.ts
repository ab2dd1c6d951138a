/**
 * certificate-policy.md must say exactly what policy/profiles.ts enforces: one §7.1 section per
 * profile, each with a table whose rows equal the profile's values. The parser and comparer are
 * plain functions so that the last test can prove they detect drift in a doctored document.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { DEFAULT_POLICY_ARC, MAX_TLS_HOSTS, oidUnderArc, POLICY_OIDS, PROFILES, REGISTRATION_ID_PATTERN, STATION_NAME_PATTERN, type Profile } from "../../policy/index.js";

/** The rows of every profile table, in this order and no others. */
const ROWS = [
  "Policy OIDs",
  "Issued by",
  "basicConstraints (critical)",
  "keyUsage (critical)",
  "extendedKeyUsage",
  "Key types",
  "Validity, default (days)",
  "Validity, maximum (days)",
  "Subject",
  "subjectAltName",
  "CRL DP and AIA",
  "Suspension (certificateHold)",
  "id-pkix-ocsp-nocheck",
] as const;
type Row = (typeof ROWS)[number];

/** RFC 3647 top-level sections: number and a word its title must contain. */
const RFC3647_SECTIONS: readonly (readonly [number, RegExp])[] = [
  [1, /Introduction/i],
  [2, /Publication and Repository/i],
  [3, /Identification and Authentication/i],
  [4, /Life-Cycle/i],
  [5, /Facility, Management,? and Operational Controls/i],
  [6, /Technical Security Controls/i],
  [7, /Certificate, CRL,? and OCSP Profiles/i],
  [8, /Compliance Audit/i],
  [9, /Other Business and Legal Matters/i],
];

interface ProfileSection {
  readonly section: string;
  readonly title: string;
  readonly name: string;
  /** The header cells of the section's table. */
  readonly header: readonly string[];
  /** Row label → raw cell text, in document order. */
  readonly rows: ReadonlyArray<readonly [string, string]>;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(new URL(import.meta.url)));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(new URL(import.meta.url))}`);
    dir = parent;
  }
}

function readPolicyDocument(): string {
  return readFileSync(join(repoRoot(), "certificate-policy.md"), "utf8");
}

/** Lines of `doc` outside fenced code blocks, so a ``` block cannot fake a heading or a table. */
function proseLines(doc: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of doc.split(/\r?\n/)) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      out.push("");
      continue;
    }
    out.push(fenced ? "" : line);
  }
  return out;
}

/** The lines from the heading matching `start` (exclusive) up to the first heading matching `end`. */
function sliceBetween(lines: readonly string[], start: RegExp, end: RegExp): string[] | undefined {
  const from = lines.findIndex((l) => start.test(l));
  if (from < 0) return undefined;
  const rest = lines.slice(from + 1);
  const to = rest.findIndex((l) => end.test(l));
  return to < 0 ? rest : rest.slice(0, to);
}

/** The `## N.` headings, in document order. */
export function topLevelSections(doc: string): { number: number; title: string }[] {
  const found: { number: number; title: string }[] = [];
  for (const line of proseLines(doc)) {
    const m = /^##\s+(\d+)\.\s+(.*\S)\s*$/.exec(line);
    if (m) found.push({ number: Number(m[1]), title: m[2]! });
  }
  return found;
}

/** Problems with the RFC 3647 outline: all nine top-level sections, in order, nothing else. */
export function checkOutline(doc: string): string[] {
  const found = topLevelSections(doc);
  const problems: string[] = [];
  const numbers = found.map((s) => s.number);
  if (!isDeepStrictEqual(numbers, [1, 2, 3, 4, 5, 6, 7, 8, 9])) {
    problems.push(`top-level sections are ${JSON.stringify(numbers)}; RFC 3647 needs "## 1." to "## 9." in order`);
  }
  for (const [n, title] of RFC3647_SECTIONS) {
    const s = found.find((f) => f.number === n);
    if (s && !title.test(s.title)) problems.push(`section ${n} is titled "${s.title}"; RFC 3647 calls it ${title.source}`);
  }
  return problems;
}

/** Every `### <section> <title> (`<name>`)` section under §7.1, with its table rows. */
export function parseProfileSections(doc: string): ProfileSection[] {
  const lines = proseLines(doc);
  const region = sliceBetween(lines, /^###\s+7\.1\s/, /^(###\s+7\.2\b|##\s+8\.|##\s+\d+\.)/);
  if (region === undefined) throw new Error('certificate-policy.md has no "### 7.1 ..." section');
  const sections: ProfileSection[] = [];
  type Open = { section: string; title: string; name: string; header: string[]; rows: [string, string][]; table: "before" | "in" | "after" };
  let current: Open | undefined;
  const flush = () => {
    if (current) sections.push({ section: current.section, title: current.title, name: current.name, header: current.header, rows: current.rows });
  };
  for (const line of region) {
    if (/^#{1,6}\s/.test(line)) {
      flush();
      current = undefined;
      const m = /^###\s+(\S+)\s+(.*?)\s+\(`([^`]+)`\)\s*$/.exec(line);
      if (m) current = { section: m[1]!, title: m[2]!, name: m[3]!, header: [], rows: [], table: "before" };
      continue;
    }
    if (!current || current.table === "after") continue; // only the first table after the heading counts
    const t = line.trim();
    if (!t.startsWith("|")) {
      if (current.table === "in") current.table = "after"; // prose below the table is free text
      continue;
    }
    const cells = t.replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
    if (current.table === "before") {
      current.table = "in";
      current.header = cells;
    } else if (!cells.every((c) => /^:?-{3,}:?$/.test(c))) {
      current.rows.push([cells[0] ?? "", cells.slice(1).join("|")]);
    }
  }
  flush();
  return sections;
}

/** The profile's value of each row, in the form the table's cells are parsed into. */
export function expectedRows(p: Profile): Record<Row, string | number | readonly string[]> {
  return {
    // The document writes the home's arc as the placeholder `<arc>`.
    "Policy OIDs": p.policyOids.map((oid) => oidUnderArc(oid, "<arc>")),
    "Issued by": p.issuedBy === "self" ? ["self"] : p.issuedBy,
    "basicConstraints (critical)": p.basicConstraints.ca ? `CA:TRUE, pathLen ${p.basicConstraints.pathLen}` : "CA:FALSE",
    "keyUsage (critical)": p.keyUsage,
    extendedKeyUsage: p.extendedKeyUsage,
    "Key types": p.allowedKeys,
    "Validity, default (days)": p.validityDays.default,
    "Validity, maximum (days)": p.validityDays.max,
    Subject: p.subject,
    subjectAltName: p.subjectAltName ?? "none",
    "CRL DP and AIA": p.revocationPointers ? "yes" : "no",
    "Suspension (certificateHold)": p.allowHold ? "yes" : "no",
    "id-pkix-ocsp-nocheck": p.ocspNoCheck ? "yes" : "no",
  };
}

type Parsed = { ok: true; value: string | number | readonly string[] } | { ok: false; error: string };

/** Parse one cell by the shape its row requires; anything else is an error, not a guess. */
export function parseCell(row: Row, cell: string): Parsed {
  switch (row) {
    case "Policy OIDs":
    case "Issued by":
    case "keyUsage (critical)":
    case "extendedKeyUsage":
    case "Key types": {
      if (!/^`[^`]+`(?:, `[^`]+`)*$/.test(cell)) return { ok: false, error: `expected \`a\`, \`b\`, ... or \`none\`, found ${JSON.stringify(cell)}` };
      const items = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      if (items.length === 1 && items[0] === "none") return { ok: true, value: [] };
      if (items.includes("none")) return { ok: false, error: `\`none\` mixed with values in ${JSON.stringify(cell)}` };
      return { ok: true, value: items };
    }
    case "Validity, default (days)":
    case "Validity, maximum (days)": {
      const m = /^`(\d+)`$/.exec(cell);
      return m ? { ok: true, value: Number(m[1]) } : { ok: false, error: `expected \`<days>\`, found ${JSON.stringify(cell)}` };
    }
    case "Subject":
    case "subjectAltName": {
      // The rule in backticks first; a plain-words explanation may follow.
      const m = /^`([^`]+)`/.exec(cell);
      return m ? { ok: true, value: m[1]! } : { ok: false, error: `expected \`<subject rule>\` first, found ${JSON.stringify(cell)}` };
    }
    case "basicConstraints (critical)":
    case "CRL DP and AIA":
    case "Suspension (certificateHold)":
    case "id-pkix-ocsp-nocheck": {
      const m = /^`([^`]+)`$/.exec(cell);
      return m ? { ok: true, value: m[1]! } : { ok: false, error: `expected a single \`value\`, found ${JSON.stringify(cell)}` };
    }
  }
}

/** Every disagreement between the document's §7.1 and `profiles`, each naming the profile and row. */
export function compareProfiles(doc: string, profiles: Readonly<Record<string, Profile>>): string[] {
  const problems: string[] = [];
  const sections = parseProfileSections(doc);
  const seen = new Set<string>();

  for (const s of sections) {
    if (seen.has(s.name)) problems.push(`profile "${s.name}": more than one section in §7.1`);
    seen.add(s.name);
    const profile = Object.hasOwn(profiles, s.name) ? profiles[s.name] : undefined;
    if (!profile) {
      problems.push(`§${s.section} describes profile "${s.name}", which policy/profiles.ts does not have`);
      continue;
    }
    const where = `profile "${profile.name}" (§${profile.cpSection})`;
    if (s.section !== profile.cpSection) problems.push(`${where}: the heading numbers it §${s.section}; cpSection is ${profile.cpSection}`);
    if (s.title !== profile.title) problems.push(`${where}: the heading's title is "${s.title}"; profiles.ts says "${profile.title}"`);

    if (!isDeepStrictEqual(s.header, ["Field", "Value"])) {
      problems.push(`${where}: the table's header is ${JSON.stringify(s.header)}; expected | Field | Value |`);
    }
    const labels = s.rows.map(([label]) => label);
    if (!isDeepStrictEqual(labels, [...ROWS])) {
      problems.push(`${where}: table rows are ${JSON.stringify(labels)}; expected exactly ${JSON.stringify(ROWS)}`);
    }
    const expected = expectedRows(profile);
    for (const row of ROWS) {
      const cell = s.rows.find(([label]) => label === row)?.[1];
      if (cell === undefined) {
        problems.push(`${where}, row "${row}": missing`);
        continue;
      }
      const parsed = parseCell(row, cell);
      if (!parsed.ok) {
        problems.push(`${where}, row "${row}": ${parsed.error}`);
      } else if (!isDeepStrictEqual(parsed.value, expected[row])) {
        problems.push(`${where}, row "${row}": the document says ${JSON.stringify(parsed.value)}; policy/profiles.ts says ${JSON.stringify(expected[row])}`);
      }
    }
  }
  for (const name of Object.keys(profiles)) {
    if (!seen.has(name)) problems.push(`profile "${name}" has no "### <cpSection> <title> (\`${name}\`)" section in §7.1`);
  }
  return problems;
}

/** The pattern written after "<label> pattern:" in §3.1 (default: the registration ID's). */
export function registrationIdPatternInDocument(doc: string, label = "Registration ID"): string | undefined {
  const region = sliceBetween(proseLines(doc), /^###\s+3\.1\s/, /^(###\s+3\.2\b|##\s+\d+\.)/);
  if (!region) return undefined;
  const m = new RegExp(`${label} pattern:\\s*\`([^\`]+)\``).exec(region.join("\n"));
  return m?.[1];
}

const doc = readPolicyDocument();

test("certificate-policy.md has the nine RFC 3647 top-level sections, in order", () => {
  assert.deepEqual(checkOutline(doc), []);
});

test("certificate-policy.md §1.2 identifies the document by POLICY_OIDS.certificatePolicy under <arc>, and states the default arc", () => {
  const s12 = sliceBetween(proseLines(doc), /^###\s+1\.2\s/, /^(###\s|##\s)/);
  assert.ok(s12, 'no "### 1.2" section');
  const text = s12.join("\n");
  const placeholder = oidUnderArc(POLICY_OIDS.certificatePolicy, "<arc>");
  assert.equal(placeholder, "<arc>.1");
  assert.ok(text.includes(`| \`${placeholder}\` | This document`), `§1.2 does not name ${placeholder}`);
  for (const [name, oid] of Object.entries(POLICY_OIDS)) assert.ok(text.includes(`\`${oidUnderArc(oid, "<arc>")}\``) && text.includes(name), `§1.2 does not list ${name}`);
  assert.ok(text.includes(`| \`<arc>\` | The organisation's arc (default \`${DEFAULT_POLICY_ARC}\`) |`), `§1.2 does not state the default arc ${DEFAULT_POLICY_ARC}`);
});

test("certificate-policy.md §7.1 has one section per profile in PROFILES and no others", () => {
  const names = parseProfileSections(doc).map((s) => s.name);
  assert.deepEqual([...names].sort(), Object.keys(PROFILES).sort(), "profile sections in §7.1 differ from PROFILES");
});

for (const profile of Object.values(PROFILES)) {
  test(`certificate-policy.md §${profile.cpSection} agrees with profile "${profile.name}"`, () => {
    const section = parseProfileSections(doc).find((s) => s.name === profile.name);
    assert.ok(section, `profile "${profile.name}" has no section in §7.1`);
    const problems = compareProfiles(doc, PROFILES).filter((p) => p.startsWith(`profile "${profile.name}"`));
    assert.deepEqual(problems, [], `certificate-policy.md drifted from policy/profiles.ts:\n  ${problems.join("\n  ")}`);
  });
}

test("certificate-policy.md agrees with policy/profiles.ts as a whole", () => {
  const problems = compareProfiles(doc, PROFILES);
  assert.deepEqual(problems, [], `certificate-policy.md drifted from policy/profiles.ts:\n  ${problems.join("\n  ")}`);
});

test("certificate-policy.md §3.1 states REGISTRATION_ID_PATTERN", () => {
  assert.equal(registrationIdPatternInDocument(doc), REGISTRATION_ID_PATTERN.source, '§3.1 "Registration ID pattern:" differs from policy/names.ts');
});

test("certificate-policy.md §3.1 states STATION_NAME_PATTERN and the host limit of tls-server certificates", () => {
  assert.equal(registrationIdPatternInDocument(doc, "Station name"), STATION_NAME_PATTERN.source, '§3.1 "Station name pattern:" differs from policy/names.ts');
  assert.match(doc, new RegExp(`Hosts of a TLS server certificate: 1 to ${MAX_TLS_HOSTS}, none twice`));
});

test("the checker reports a doctored document", () => {
  const device = PROFILES.device;
  const maxRow = `| Validity, maximum (days) | \`${device.validityDays.max}\` |`;
  const heading = `### ${device.cpSection} ${device.title} (\`device\`)`;
  const at = doc.indexOf(heading);
  assert.ok(at >= 0 && doc.indexOf(maxRow, at) > at, "the fixture rows to doctor are not in the document");

  // A changed number in one row.
  const rowAt = doc.indexOf(maxRow, at);
  const wrongMax = doc.slice(0, rowAt) + maxRow.replace(`${device.validityDays.max}`, `${device.validityDays.max + 1}`) + doc.slice(rowAt + maxRow.length);
  const baseline = new Set(compareProfiles(doc, PROFILES)); // empty unless the real document drifted too
  const p1 = compareProfiles(wrongMax, PROFILES).filter((p) => !baseline.has(p));
  assert.equal(p1.length, 1, p1.join("\n"));
  assert.match(p1[0]!, /profile "device".*row "Validity, maximum \(days\)"/);

  // Reordered list items, an extra row, a renamed title, an unknown profile, a missing profile.
  const kuRow = "| keyUsage (critical) | `digitalSignature`, `keyCertSign`, `cRLSign` |";
  const reordered = doc.replace(kuRow, "| keyUsage (critical) | `keyCertSign`, `digitalSignature`, `cRLSign` |");
  assert.notEqual(reordered, doc);
  assert.ok(compareProfiles(reordered, PROFILES).some((p) => /row "keyUsage \(critical\)"/.test(p)));

  const extraRow = doc.replace(maxRow, `${maxRow}\n| Colour | \`blue\` |`);
  assert.ok(compareProfiles(extraRow, PROFILES).some((p) => /profile "device".*table rows are/.test(p)));

  const renamed = doc.replace(heading, `### ${device.cpSection} Device certificate (\`device\`)`);
  assert.ok(compareProfiles(renamed, PROFILES).some((p) => /profile "device".*title/.test(p)));

  const unknown = doc.replace(heading, `### ${device.cpSection} ${device.title} (\`gadget\`)`);
  const p2 = compareProfiles(unknown, PROFILES);
  assert.ok(p2.some((p) => /"gadget", which policy\/profiles.ts does not have/.test(p)), p2.join("\n"));
  assert.ok(p2.some((p) => /profile "device" has no/.test(p)), p2.join("\n"));

  // The outline and registration-ID checks fail too.
  assert.notDeepEqual(checkOutline(doc.replace(/^## 8\. /m, "## 10. ")), []);
  assert.notEqual(registrationIdPatternInDocument(doc.replace("{0,62}", "{0,63}")), REGISTRATION_ID_PATTERN.source);
});
