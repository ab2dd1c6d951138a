/**
 * The valid_policy_tree of RFC 5280 §6.1.2(a), and the operations §6.1.3(d)-(e), §6.1.4(b) and
 * §6.1.5(g) perform on it, step for step. Nodes are kept by depth; deleting a node deletes its
 * subtree. The tree's size is bounded (`nodeLimit`): policy mappings can make it grow
 * exponentially with the path (CVE-2023-0464 in OpenSSL), and a path that would exceed the bound
 * fails instead.
 */
import { ANY_POLICY, type PolicyInformation, type PolicyMapping } from "./extensions.js";

export const DEFAULT_POLICY_NODE_LIMIT = 10_000;

export interface PolicyNode {
  readonly validPolicy: string;
  readonly qualifiers: Uint8Array | undefined;
  expectedPolicySet: Set<string>;
  readonly parent: PolicyNode | undefined;
  readonly children: PolicyNode[];
  readonly depth: number;
  deleted: boolean;
}

export class PolicyTreeTooLarge extends Error {
  override readonly name = "PolicyTreeTooLarge";
}

export class ValidPolicyTree {
  /** levels[d]: the nodes of depth d. Empty level 0: the tree is NULL. */
  private levels: PolicyNode[][];
  private nodes = 1;

  constructor(private readonly nodeLimit = DEFAULT_POLICY_NODE_LIMIT) {
    // §6.1.2(a): one node of depth 0 {anyPolicy, {}, {anyPolicy}}.
    this.levels = [[{ validPolicy: ANY_POLICY, qualifiers: undefined, expectedPolicySet: new Set([ANY_POLICY]), parent: undefined, children: [], depth: 0, deleted: false }]];
  }

  get isNull(): boolean {
    return (this.levels[0]?.length ?? 0) === 0;
  }

  /** §6.1.3(e): the certificate has no certificatePolicies. */
  setNull(): void {
    this.levels = [];
  }

  level(depth: number): readonly PolicyNode[] {
    return this.levels[depth] ?? [];
  }

  private addChild(parent: PolicyNode, validPolicy: string, qualifiers: Uint8Array | undefined, expected: Set<string>): void {
    if (++this.nodes > this.nodeLimit) throw new PolicyTreeTooLarge(`the valid_policy_tree would exceed ${this.nodeLimit} nodes`);
    const node: PolicyNode = { validPolicy, qualifiers, expectedPolicySet: expected, parent, children: [], depth: parent.depth + 1, deleted: false };
    parent.children.push(node);
    (this.levels[node.depth] ??= []).push(node);
  }

  /** Delete a node and its subtree (the levels are compacted by `compact`). */
  private delete(node: PolicyNode): void {
    const stack = [node];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.deleted) continue;
      n.deleted = true;
      this.nodes--;
      stack.push(...n.children);
    }
    if (node.parent) {
      const siblings = node.parent.children;
      siblings.splice(siblings.indexOf(node), 1);
    }
  }

  private compact(): void {
    this.levels = this.levels.map((l) => l.filter((n) => !n.deleted));
    while (this.levels.length > 0 && this.levels[this.levels.length - 1]!.length === 0) this.levels.pop();
    if ((this.levels[0]?.length ?? 0) === 0) this.levels = [];
  }

  /** "If there is a node of depth `maxDepth` or less without any child nodes, delete that node. Repeat." */
  prune(maxDepth: number): void {
    for (let d = Math.min(maxDepth, this.levels.length - 1); d >= 0; d--) {
      for (const n of this.levels[d] ?? []) if (!n.deleted && n.children.length === 0) this.delete(n);
    }
    this.compact();
  }

  /**
   * §6.1.3(d): certificate `i` (1-based) asserts `policies`. `anyPolicyAllowed` is
   * "inhibit_anyPolicy > 0, or i < n and the certificate is self-issued".
   */
  processCertificatePolicies(i: number, policies: readonly PolicyInformation[], anyPolicyAllowed: boolean): void {
    if (this.isNull) return;
    const parents = this.level(i - 1);
    let anyPolicyQualifiers: Uint8Array | undefined;
    let assertsAnyPolicy = false;
    for (const p of policies) {
      if (p.oid === ANY_POLICY) {
        assertsAnyPolicy = true;
        anyPolicyQualifiers = p.qualifiers;
        continue;
      }
      // (d)(1)(i): children of every node of depth i-1 expecting P.
      let matched = false;
      for (const parent of parents) {
        if (parent.expectedPolicySet.has(p.oid)) {
          this.addChild(parent, p.oid, p.qualifiers, new Set([p.oid]));
          matched = true;
        }
      }
      // (d)(1)(ii): else children of every anyPolicy node of depth i-1.
      if (!matched) for (const parent of parents) if (parent.validPolicy === ANY_POLICY) this.addChild(parent, p.oid, p.qualifiers, new Set([p.oid]));
    }
    // (d)(2): anyPolicy expands every expected policy not yet present among a node's children.
    if (assertsAnyPolicy && anyPolicyAllowed) {
      for (const parent of parents) {
        for (const expected of parent.expectedPolicySet) {
          if (!parent.children.some((c) => c.validPolicy === expected)) this.addChild(parent, expected, anyPolicyQualifiers, new Set([expected]));
        }
      }
    }
    // (d)(3)
    this.prune(i - 1);
  }

  /** §6.1.4(b): policy mappings in certificate `i`; `mappingAllowed` is policy_mapping > 0. */
  applyPolicyMappings(i: number, mappings: readonly PolicyMapping[], anyPolicyQualifiers: Uint8Array | undefined, mappingAllowed: boolean): void {
    if (this.isNull) return;
    const mapped = new Map<string, Set<string>>();
    for (const m of mappings) {
      const set = mapped.get(m.issuerDomainPolicy) ?? new Set<string>();
      set.add(m.subjectDomainPolicy);
      mapped.set(m.issuerDomainPolicy, set);
    }
    if (mappingAllowed) {
      // (b)(1)
      for (const [idP, subjectPolicies] of mapped) {
        const nodes = this.level(i).filter((n) => n.validPolicy === idP);
        if (nodes.length > 0) {
          for (const n of nodes) n.expectedPolicySet = new Set(subjectPolicies);
        } else {
          const anyNode = this.level(i).find((n) => n.validPolicy === ANY_POLICY);
          if (anyNode?.parent) this.addChild(anyNode.parent, idP, anyPolicyQualifiers, new Set(subjectPolicies));
        }
      }
    } else {
      // (b)(2)
      for (const idP of mapped.keys()) for (const n of this.level(i)) if (n.validPolicy === idP) this.delete(n);
      this.compact();
      this.prune(i - 1);
    }
  }

  /**
   * §6.1.5(g): the intersection of the tree (of a path of `n` certificates) with the
   * user-initial-policy-set; undefined for any-policy. Leaves the tree as the intersection.
   */
  intersect(n: number, userInitialPolicySet: ReadonlySet<string> | undefined): void {
    if (this.isNull || userInitialPolicySet === undefined || userInitialPolicySet.has(ANY_POLICY)) return;
    // (iii)(1): the nodes whose parent is an anyPolicy node.
    const nodeSet: PolicyNode[] = [];
    for (const level of this.levels) for (const node of level) if (node.parent?.validPolicy === ANY_POLICY && !node.deleted) nodeSet.push(node);
    // (iii)(2)
    for (const node of nodeSet) if (!node.deleted && node.validPolicy !== ANY_POLICY && !userInitialPolicySet.has(node.validPolicy)) this.delete(node);
    this.compact();
    // (iii)(3)
    const anyLeaf = this.level(n).find((node) => node.validPolicy === ANY_POLICY);
    if (anyLeaf?.parent) {
      const present = new Set(nodeSet.filter((node) => !node.deleted).map((node) => node.validPolicy));
      for (const oid of userInitialPolicySet) if (!present.has(oid)) this.addChild(anyLeaf.parent, oid, anyLeaf.qualifiers, new Set([oid]));
      this.delete(anyLeaf);
      this.compact();
    }
    // (iii)(4)
    this.prune(n - 1);
  }

  /** The valid policies of the leaves of depth n: the user-constrained policy set. */
  policiesAt(n: number): string[] {
    return [...new Set(this.level(n).map((node) => node.validPolicy))].sort();
  }
}
