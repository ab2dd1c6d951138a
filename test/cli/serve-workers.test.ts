/**
 * `trustline serve --workers 2`: one process issues CRLs, two answer on the shared port. A
 * revocation reaches OCSP and the served CRL within a second and a half; SIGTERM stops them all.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { initCliHome } from "./cli-helpers.js";
import { CLI, openssl, runCli, tempDir } from "../helpers/pki.js";

let t: { dir: string; cleanup: () => void };
let home: string;
let passFile: string;
before(() => {
  t = tempDir();
  ({ home, passFile } = initCliHome(t.dir));
});
after(() => t.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("RFC 6960 OCSP and CRLs from a multi-process server, revocations visible within 1.5 s, clean SIGTERM", async () => {
  const cli = (...args: string[]) => runCli(["--home", home, "--passphrase-file", passFile, ...args]);
  const issued = JSON.parse(cli("--json", "issue", "device", "--generate", "mp-0001", "--out-dir", join(t.dir, "out")).stdout) as { serial: string; files: { certificate: string } };
  writeFileSync(join(t.dir, "root.pem"), cli("ca", "export", "root").stdout);
  writeFileSync(join(t.dir, "device-ca.pem"), cli("ca", "export", "device").stdout);
  const port = 21_000 + Math.floor(Math.random() * 20_000);
  const server = spawn(process.execPath, [CLI, "--home", home, "--passphrase-file", passFile, "serve", "--port", String(port), "--workers", "2"], { stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));
  try {
    const url = `http://127.0.0.1:${port}`;
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
      if (!up) await sleep(100);
    }
    assert.ok(up, "the workers answer on the shared port");
    const ask = () => openssl(["ocsp", "-issuer", join(t.dir, "device-ca.pem"), "-cert", issued.files.certificate, "-url", `${url}/ocsp/device`, "-CAfile", join(t.dir, "root.pem")]);
    const good = ask();
    assert.match(good.stderr + good.stdout, /Response verify OK/);
    assert.match(good.stdout, /: good/);
    assert.equal(cli("revoke", issued.serial, "--reason", "keyCompromise").status, 0);
    const revokedAt = Date.now();
    let status = "";
    while (Date.now() - revokedAt < 1500 && !/: revoked/.test(status)) {
      status = ask().stdout;
      if (!/: revoked/.test(status)) await sleep(100);
    }
    assert.match(status, /: revoked/, "OCSP shows the revocation within 1.5 s");
    let listed = false;
    while (Date.now() - revokedAt < 3000 && !listed) {
      const crl = new Uint8Array(await (await fetch(`${url}/crl/device.crl`)).arrayBuffer());
      const text = openssl(["crl", "-inform", "DER", "-noout", "-text"], crl).stdout;
      listed = text.toUpperCase().includes(issued.serial.toUpperCase());
      if (!listed) await sleep(200);
    }
    assert.ok(listed, "the served CRL lists the revoked serial");
  } finally {
    server.kill("SIGTERM");
  }
  const code = await Promise.race([exited, sleep(5000).then(() => "timeout")]);
  assert.equal(code, 0, "the primary and its workers stop on SIGTERM");
});
