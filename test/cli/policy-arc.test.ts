/**
 * `trustline init --policy-arc`: recorded in the home, shown by `ca list`, `ca show` and `cert show`,
 * written into the certificates; a malformed or GnuTLS-unreadable arc is a usage error (exit 2) that
 * leaves no home behind.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DEFAULT_POLICY_ARC, LEGACY_TRUSTLINE_ARC } from "../../policy/index.js";
import { openssl, opensslCsr, runCli, tempDir } from "../helpers/pki.js";
import { expectError, expectOk, initCliHome, json, loginCli, type TestHome } from "./cli-helpers.js";

const ARC = "1.3.6.1.4.1.32473.77";

describe("init --policy-arc", { timeout: 120_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  let h: TestHome;
  before(() => {
    ({ dir, cleanup } = tempDir("trustline-cli-arc-"));
    h = initCliHome(dir, []);
  });
  after(() => cleanup());

  test("without --policy-arc: the default arc, shown by ca list and ca show", () => {
    const cas = json<{ name: string; policyArc: string }[]>(runCli([...h.gNoPass, "--json", "ca", "list"]));
    assert.deepEqual(
      cas.map((c) => c.policyArc),
      [DEFAULT_POLICY_ARC, DEFAULT_POLICY_ARC, DEFAULT_POLICY_ARC],
    );
    const human = runCli([...h.gNoPass, "ca", "list"]);
    assert.equal(human.status, 0);
    assert.equal(human.stdout.split("\n")[0], `policy OID arc ${DEFAULT_POLICY_ARC}`);
    const show = runCli([...h.gNoPass, "ca", "show", "device"]);
    assert.match(show.stdout, new RegExp(`^  policy arc  ${DEFAULT_POLICY_ARC.replace(/\./g, "\\.")}$`, "m"));
  });

  test("with --policy-arc: recorded, in the certificates (OpenSSL reads them), in cert show", () => {
    const home = join(dir, "own");
    const r = runCli(["--home", home, "--json", "init", "--org", "Acme Devices", "--policy-arc", ARC, "--passphrase-file", h.passFile, "--roles", "admin,issuer"]);
    const init = json<{ policyArc: string; operator: string; firstAdmin: { otpauthUri: string } }>(r);
    assert.equal(r.status, 0);
    assert.equal(init.policyArc, ARC);
    loginCli(home, init.operator, init.firstAdmin.otpauthUri, h.passFile);
    const csr = opensslCsr(dir, "dev-arc", "/CN=dev-arc-0001").csrPath;
    const out = join(dir, "dev-arc.pem");
    expectOk(runCli(["--home", home, "--passphrase-file", h.passFile, "--json", "issue", "device", "--csr", csr, "--out", out]));
    const text = openssl(["x509", "-in", out, "-noout", "-text"]).stdout;
    assert.match(text, new RegExp(`Policy: ${ARC.replace(/\./g, "\\.")}\\.1\\.1\\n`));
    const show = json<{ policyArc: string; policyOids: string[] }>(runCli(["--home", home, "--json", "cert", "show", out]));
    assert.equal(show.policyArc, ARC);
    assert.deepEqual(show.policyOids, [`${ARC}.1.1`]);
    const human = runCli(["--home", home, "cert", "show", out]);
    assert.match(human.stdout, new RegExp(`policies    ${ARC.replace(/\./g, "\\.")}\\.1\\.1 \\(arc ${ARC.replace(/\./g, "\\.")}\\)`));
  });

  test("a malformed arc, or one with a component beyond 64 bits → exit 2 USAGE, no home", () => {
    for (const [arc, reason] of [
      [LEGACY_TRUSTLINE_ARC, /exceeds 2\^63 - 1/],
      ["1.3.6.1.4.1.x", /not an OID/],
      ["7.1", /starts with 0, 1 or 2/],
    ] as const) {
      const home = join(dir, `bad-${arc.length}`);
      const e = expectError(runCli(["--home", home, "--json", "init", "--org", "Acme Devices", "--policy-arc", arc, "--passphrase-file", h.passFile]), 2, "USAGE");
      assert.match(e.message, /^--policy-arc: /);
      assert.match(e.message, reason);
      assert.equal(existsSync(join(home, "state.json")), false);
    }
  });
});
