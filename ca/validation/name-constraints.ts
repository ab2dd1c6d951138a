/**
 * Name constraints: the permitted_subtrees and excluded_subtrees state of RFC 5280 §6.1 and the
 * subtree matching rules of §4.2.1.10.
 *
 * The intersection of permitted subtrees is kept exactly as a list of layers, one per certificate
 * that constrained a name form: a name is permitted when every layer of its form has a subtree that
 * contains it (being in the intersection of unions is being in each union). The union of excluded
 * subtrees is a flat list. This avoids computing subtree intersections, which are not closed for
 * some forms (e-mail host vs domain), and is exact.
 *
 * Work is bounded: a path whose constraints would need more than `comparisonBudget` name/subtree
 * comparisons fails with a clear reason, so that huge constraint sets cannot stall a server.
 */
import type { ParsedCertificate } from "./certificate.js";
import type { NameConstraints } from "./extensions.js";
import { describeGeneralName, type GeneralName, type NameForm } from "./general-names.js";
import { isDnWithin } from "./names.js";
import { dnsNameSyntaxError, emailSyntaxError } from "./name-syntax.js";

export const DEFAULT_COMPARISON_BUDGET = 1_000_000;

/** The names of a certificate that constraints apply to (§4.2.1.10): subject DN, its e-mail attributes, and the SAN. */
function constrainedNames(cert: ParsedCertificate): GeneralName[] {
  const names: GeneralName[] = [];
  if (cert.subject.rdnKeys.length > 0) names.push({ kind: "dn", name: cert.subject });
  // The RFC requires this when there is no SAN; legacy e-mail in the DN is checked always (as OpenSSL
  // does), so that an address excluded by the CA cannot hide in the subject beside a SAN.
  for (const email of cert.subject.emailAddresses) names.push({ kind: "email", value: email });
  for (const n of cert.ext.subjectAltName ?? []) names.push(n);
  return names;
}

const lower = (s: string) => s.toLowerCase();

/** "example.com" contains itself and every name made by adding labels on the left; ".example.com" only the latter. */
function dnsWithin(name: string, base: string): boolean {
  const n = lower(name).replace(/\.$/, "");
  const b = lower(base).replace(/\.$/, "");
  if (b === "") return true;
  if (b.startsWith(".")) return n.endsWith(b);
  return n === b || n.endsWith(`.${b}`);
}

/**
 * rfc822Name constraints (§4.2.1.10): "user@host" is one mailbox; "host" every mailbox at that
 * host; ".domain" every mailbox at a host within the domain. Local parts compare exactly, hosts
 * without regard to case.
 */
function emailWithin(address: string, base: string): boolean {
  const at = address.lastIndexOf("@");
  if (at < 0) return false;
  const local = address.slice(0, at);
  const host = lower(address.slice(at + 1));
  const baseAt = base.lastIndexOf("@");
  if (baseAt >= 0) return local === base.slice(0, baseAt) && host === lower(base.slice(baseAt + 1));
  if (base.startsWith(".")) return host.endsWith(lower(base));
  return host === lower(base);
}

/** The host of a URI with an authority ("scheme://[user@]host[:port]/..."); undefined when it has none. */
export function uriHost(uri: string): string | undefined {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/.exec(uri);
  const host = m?.[1];
  return host ? lower(host) : undefined;
}

/** URI constraints apply to the host (§4.2.1.10): "host" exactly, ".domain" hosts within the domain. */
function uriWithin(uri: string, base: string): boolean {
  const host = uriHost(uri);
  if (host === undefined) return false;
  if (base.startsWith(".")) return host.endsWith(lower(base));
  return host === lower(base);
}

function ipWithin(address: Uint8Array, base: Uint8Array): boolean {
  if (base.length !== address.length * 2) return false;
  for (let i = 0; i < address.length; i++) {
    const mask = base[address.length + i]!;
    if ((address[i]! & mask) !== (base[i]! & mask)) return false;
  }
  return true;
}

/**
 * §4.2.1.10 with RFC 6125 §6.4.3 wildcards: "*.example.com" stands for every name one label left
 * of example.com, so an excluded subtree that holds any of them excludes it. That is: the base
 * holds the wildcard's parent domain, or the base is itself one label left of it
 * ("bar.example.com", or ".example.com" style bases deeper than that cannot hold a one-label name).
 */
function wildcardMayBeWithin(name: string, base: string): boolean {
  if (!name.startsWith("*.")) return false;
  const parent = lower(name.slice(2)).replace(/\.$/, "");
  const b = lower(base).replace(/\.$/, "");
  if (b.startsWith(".")) return `x.${parent}`.endsWith(b);
  const dot = b.indexOf(".");
  return dnsWithin(parent, b) || (dot > 0 && b.slice(dot + 1) === parent);
}

/**
 * Whether `name` lies within the permitted subtree `base`. A malformed name (§4.2.1.6 syntax) is
 * never shown to be inside a permitted subtree, whatever its text happens to end with.
 */
function permittedWithin(name: GeneralName, base: GeneralName): boolean | undefined {
  if (name.kind === "dns" && dnsNameSyntaxError(name.value) !== undefined) return false;
  if (name.kind === "email" && emailSyntaxError(name.value) !== undefined) return false;
  return within(name, base);
}

/** Whether `name` may lie in the excluded subtree `base`: any name a wildcard stands for counts. */
function excludedWithin(name: GeneralName, base: GeneralName): boolean | undefined {
  if (name.kind === "dns" && base.kind === "dns" && wildcardMayBeWithin(name.value, base.value)) return true;
  return within(name, base);
}

/** Whether `name` lies in the subtree `base` of the same form; undefined when the form is not understood. */
function within(name: GeneralName, base: GeneralName): boolean | undefined {
  if (name.kind !== base.kind) return false;
  switch (name.kind) {
    case "dns":
      return dnsWithin(name.value, (base as { value: string }).value);
    case "email":
      return emailWithin(name.value, (base as { value: string }).value);
    case "uri":
      return uriWithin(name.value, (base as { value: string }).value);
    case "ip":
      return ipWithin(name.bytes, (base as { bytes: Uint8Array }).bytes);
    case "dn":
      return isDnWithin(name.name, (base as Extract<GeneralName, { kind: "dn" }>).name);
    default:
      return undefined;
  }
}

export class NameConstraintState {
  private readonly permitted = new Map<NameForm, GeneralName[][]>();
  private readonly excluded = new Map<NameForm, GeneralName[]>();
  private budget: number;

  constructor(comparisonBudget = DEFAULT_COMPARISON_BUDGET) {
    this.budget = comparisonBudget;
  }

  /** §6.1.4(g): intersect permitted_subtrees, unite excluded_subtrees. */
  add(nc: NameConstraints): void {
    const byForm = new Map<NameForm, GeneralName[]>();
    for (const base of nc.permitted ?? []) {
      const list = byForm.get(base.kind) ?? [];
      list.push(base);
      byForm.set(base.kind, list);
    }
    for (const [form, layer] of byForm) {
      const layers = this.permitted.get(form) ?? [];
      layers.push(layer);
      this.permitted.set(form, layers);
    }
    for (const base of nc.excluded ?? []) {
      const list = this.excluded.get(base.kind) ?? [];
      list.push(base);
      this.excluded.set(base.kind, list);
    }
  }

  get empty(): boolean {
    return this.permitted.size === 0 && this.excluded.size === 0;
  }

  /**
   * §6.1.3(b) and (c): every name of `cert` must be within the permitted subtrees and outside the
   * excluded ones. Returns the reason when not.
   */
  check(cert: ParsedCertificate): string | undefined {
    if (this.empty) return undefined;
    for (const name of constrainedNames(cert)) {
      const layers = this.permitted.get(name.kind) ?? [];
      const excluded = this.excluded.get(name.kind) ?? [];
      this.budget -= excluded.length + layers.reduce((sum, l) => sum + l.length, 0);
      if (this.budget < 0) return "checking the name constraints would take more than the allowed number of comparisons";
      for (const layer of layers) {
        let inside = false;
        for (const base of layer) {
          const r = permittedWithin(name, base);
          if (r === undefined) return `the name ${describeGeneralName(name)} is of a form (${name.kind}) whose constraints are not supported`;
          if (r) {
            inside = true;
            break;
          }
        }
        if (!inside) return `${describeGeneralName(name)} is not within the permitted subtrees (${layer.map(describeGeneralName).slice(0, 5).join(", ")}${layer.length > 5 ? ", ..." : ""})`;
      }
      for (const base of excluded) {
        const r = excludedWithin(name, base);
        if (r === undefined) return `the name ${describeGeneralName(name)} is of a form (${name.kind}) whose constraints are not supported`;
        if (r) return `${describeGeneralName(name)} is within the excluded subtree ${describeGeneralName(base)}`;
      }
    }
    return undefined;
  }
}
