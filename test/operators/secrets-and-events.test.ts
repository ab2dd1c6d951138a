/**
 * Secrets at rest and security events. Every file in the home is scanned for the TOTP seed, the
 * session token and the service token (raw, hex, base64, base32, and their SHA-256): none is there
 * in the clear. A loopback webhook receives refused sign-ins, a lock, a key compromise, a mass
 * revocation and a tampered audit log; a dead webhook does not slow issuing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, tempDir } from "../helpers/pki.js";
import { secretOf, totpNow } from "../helpers/totp.js";
import { auditLog, expectError, expectOk, initCliHome, json, runCliAsync, type TestHome } from "../cli/cli-helpers.js";

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

function forms(secret: Buffer): string[] {
  const sha = createHash("sha256").update(secret).digest();
  return [secret.toString("hex"), secret.toString("base64"), secret.toString("base64url"), sha.toString("hex"), sha.toString("base64"), sha.toString("base64url")].map((s) => s.replace(/=+$/, ""));
}

describe("no TOTP seed, session token or service token in plain text anywhere in the home", { timeout: 120_000 }, () => {
  const t = tempDir();
  after(() => t.cleanup());

  test("scan every file after enrolment, a session and a service account", () => {
    const h = initCliHome(t.dir);
    const erin = json(runCli([...h.g, "--json", "operator", "add", "erin", "--role", "issuer"])).otpauthUri as string;
    const tokenFile = join(t.dir, "svc.token");
    expectOk(runCli([...h.g, "operator", "add", "svc", "--service", "--role", "issuer", "--token-out", tokenFile]));
    const login = runCli(["--home", h.home, "--passphrase-file", h.passFile, "--operator", "erin", "--json", "login", "--totp", totpNow(erin), "--print-token"]);
    expectOk(login);
    const sessionToken = json(login).token as string;
    const serviceToken = readFileSync(tokenFile, "utf8").trim();
    const secrets: Record<string, string[]> = {
      "erin's TOTP seed": [...forms(Buffer.from(secretOf(erin))), new URL(erin).searchParams.get("secret")!],
      "alice's TOTP seed": [...forms(Buffer.from(secretOf(h.otpauthUri))), new URL(h.otpauthUri).searchParams.get("secret")!],
      "the session token": [sessionToken, ...forms(Buffer.from(sessionToken.split(".").at(-1)!, "base64url"))],
      "alice's session token": [readFileSync(h.sessionFile, "utf8").trim()],
      "the service token": [serviceToken, ...forms(Buffer.from(serviceToken.split(".").at(-1)!, "base64url"))],
    };
    const files = filesUnder(h.home);
    assert.ok(files.some((f) => f.endsWith("state.json")) && files.some((f) => f.endsWith("log.jsonl")));
    for (const file of files) {
      const text = readFileSync(file).toString("latin1");
      for (const [what, variants] of Object.entries(secrets)) for (const v of variants) assert.equal(text.includes(v), false, `${what} found in ${file}`);
    }
    // Listing operators and sessions shows no secret either.
    const listed = runCli([...h.gNoPass, "--json", "operator", "list"]).stdout + runCli([...h.gNoPass, "--json", "session", "list", "--all"]).stdout;
    for (const [what, variants] of Object.entries(secrets)) for (const v of variants) assert.equal(listed.includes(v), false, `${what} in a listing`);
  });
});

interface Received {
  event: string;
  operator?: string;
  details?: Record<string, unknown>;
}

describe("security events reach the webhook; a dead webhook does not slow issuing", { timeout: 180_000 }, () => {
  const t = tempDir();
  let h: TestHome;
  let server: Server;
  let url: string;
  const received: Received[] = [];
  let failFirst = 1;
  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        // The first delivery is answered 503: the notifier must retry.
        if (failFirst-- > 0) return void res.writeHead(503).end();
        received.push(JSON.parse(body) as Received);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/secret-path`;
    h = initCliHome(t.dir);
    expectOk(runCli([...h.g, "config", "set", "notify.url", url]));
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    t.cleanup();
  });

  test("config show names the webhook's origin only (its path may be a secret)", () => {
    const shown = json(runCli([...h.gNoPass, "--json", "config", "show"]));
    assert.deepEqual(shown, { webhook: new URL(url).origin });
  });

  test("a refused sign-in, a lock, a key compromise, a mass revocation and a tampered log are each POSTed", async () => {
    const frank = json(runCli([...h.g, "--json", "operator", "add", "frank", "--role", "issuer"])).otpauthUri as string;
    const valid = new Set([-30_000, 0, 30_000].map((d) => totpNow(frank, new Date(Date.now() + d))));
    const wrong = ["000000", "111111", "222222"].find((c) => !valid.has(c))!;
    for (let i = 0; i < 5; i++) expectError(await runCliAsync(["--home", h.home, "--passphrase-file", h.passFile, "--operator", "frank", "--totp", wrong, "--json", "crl"]), 5, "AUTH_FAILED");
    const dev = json(await runCliAsync([...h.g, "--json", "issue", "device", "--generate", "dev-ev-1", "--batch", "EV", "--out-dir", join(t.dir, "o1")]));
    expectOk(await runCliAsync([...h.g, "revoke", dev.serial, "--reason", "keyCompromise"]));
    expectOk(await runCliAsync([...h.g, "--json", "issue", "device", "--generate", "dev-ev-2", "--batch", "EV2", "--out-dir", join(t.dir, "o2")]));
    expectOk(await runCliAsync([...h.g, "revoke", "--batch", "EV2", "--reason", "cessationOfOperation", "--yes"]));
    const log = join(h.home, "audit", "log.jsonl");
    const lines = readFileSync(log, "utf8").split("\n");
    lines[3] = lines[3]!.replace('"outcome":"ok"', '"outcome":"OK"');
    writeFileSync(log, lines.join("\n"));
    expectError(await runCliAsync([...h.g, "--json", "audit", "verify"]), 1, "AUDIT_TAMPERED");
    const events = received.map((e) => e.event);
    assert.deepEqual(events.filter((e) => e === "auth.fail").length, 5);
    assert.deepEqual(
      events.filter((e) => e !== "auth.fail"),
      ["operator.locked", "revocation.key-compromise", "revocation.mass", "audit.verify-failed"],
    );
    assert.deepEqual(received.find((e) => e.event === "operator.locked")!.details, { operator: "frank", failures: 5 });
    assert.equal(received.find((e) => e.event === "revocation.key-compromise")!.details!.serial, dev.serial);
    assert.equal(received.find((e) => e.event === "revocation.mass")!.details!.count, 1);
    for (const e of received) assert.equal(JSON.stringify(e).includes(wrong), false, "no code in an event");
    appendFileSync(log, ""); // the log stays as tampered: audit verify keeps failing, as it should
  });
});

describe("a dead webhook costs issuing nothing", { timeout: 180_000 }, () => {
  const t = tempDir();
  after(() => t.cleanup());

  test("issuing with a webhook that never answers takes as long as with none", async () => {
    const h = initCliHome(t.dir);
    // A server that accepts connections and never answers: the worst kind of dead.
    const sockets: import("node:net").Socket[] = [];
    const blackhole = (await import("node:net")).createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => blackhole.listen(0, "127.0.0.1", r));
    const port = (blackhole.address() as { port: number }).port;
    // Closed whatever happens: an open server would keep the test process alive after a failure.
    try {
      const time = async (cn: string) => {
        const start = performance.now();
        expectOk(await runCliAsync([...h.g, "issue", "device", "--generate", cn, "--out-dir", join(t.dir, cn)]));
        return performance.now() - start;
      };
      await time("warm-up");
      const without = Math.min(await time("no-hook-1"), await time("no-hook-2"));
      expectOk(runCli([...h.g, "config", "set", "notify.url", `http://127.0.0.1:${port}/hook`]));
      const withDead = Math.min(await time("dead-hook-1"), await time("dead-hook-2"));
      assert.ok(withDead < without + 500, `issuing took ${withDead.toFixed(0)} ms with a dead webhook, ${without.toFixed(0)} ms without`);
      // A security event with the dead webhook: the command ends within the 2 s delivery budget and says so.
      const start = performance.now();
      const dev = json(await runCliAsync([...h.g, "--json", "issue", "device", "--generate", "dev-kc", "--out-dir", join(t.dir, "kc")]));
      const r = await runCliAsync([...h.g, "revoke", dev.serial, "--reason", "keyCompromise"]);
      expectOk(r);
      const elapsed = performance.now() - start;
      assert.ok(elapsed < without + 4_000, `issuing and revoking took ${elapsed.toFixed(0)} ms with a dead webhook; one issue ${without.toFixed(0)} ms without`);
      assert.match(r.stderr, /webhook did not take 1 event/);
      const revoke = (await auditLog(h)).filter((e) => e.action === "certificate.revoke");
      assert.equal(revoke.length, 1, "the revocation is recorded whatever the webhook does");
    } finally {
      for (const s of sockets) s.destroy();
      blackhole.close();
    }
  });
});
