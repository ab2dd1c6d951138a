/**
 * A local RFC 3161 time-stamp authority for tests: OpenSSL makes a TSA root and a TSA certificate
 * (extendedKeyUsage critical, timeStamping only: RFC 3161 §2.3), and `openssl ts -reply` answers
 * each request, behind a node:http server on 127.0.0.1 (POST application/timestamp-query ->
 * application/timestamp-reply). Requests are answered one at a time: `openssl ts -reply` bumps a
 * serial file and must not run concurrently.
 *
 * OpenSSL's TSA stamps with the real clock: a test that needs a token before or after some event
 * must date that event relative to the real current time, not to FIXED_NOW.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/** The TSA's policy OID in its tokens (TSTInfo.policy). */
export const TSA_POLICY = "1.2.3.4.1";

export interface TestRoot {
  /** PEM certificate and unencrypted PEM key. */
  readonly certPath: string;
  readonly keyPath: string;
  readonly subject: string;
}

export interface LocalTsa {
  /** http://127.0.0.1:<port>/tsr */
  readonly url: string;
  readonly dir: string;
  /** The TSA root (PEM): what a verifier pins as tsaTrust. */
  readonly root: TestRoot;
  /** The TSA's own certificate (PEM). */
  readonly certPath: string;
  /** Requests answered with a token so far. */
  readonly granted: () => number;
  readonly close: () => Promise<void>;
}

function run(args: readonly string[], cwd: string): string {
  return execFileSync("openssl", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const REQ_CONFIG = `[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ root_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ tsa_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
`;

/** A self-signed P-256 root made by `openssl req -x509` (for a TSA, or as a foreign root). */
export function makeTestRoot(dir: string, name: string, commonName = `${name} root`): TestRoot {
  mkdirSync(dir, { recursive: true });
  const cnf = join(dir, "req.cnf");
  writeFileSync(cnf, REQ_CONFIG);
  const certPath = join(dir, `${name}-root.pem`);
  const keyPath = join(dir, `${name}-root.key`);
  const subject = `/O=Trustline tests/CN=${commonName}`;
  run(["req", "-x509", "-new", "-config", cnf, "-extensions", "root_ext", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyPath, "-subj", subject, "-sha256", "-days", "3650", "-out", certPath], dir);
  return { certPath, keyPath, subject };
}

/**
 * Make the TSA's PKI (root + TSA certificate with `extendedKeyUsage=critical,timeStamping`) in
 * `<parent>/tsa-<name>` and serve it on 127.0.0.1 (port chosen by the OS).
 */
export async function startTsa(parent: string, name = "test-tsa"): Promise<LocalTsa> {
  const dir = join(parent, `tsa-${name}`);
  const root = makeTestRoot(dir, name, `${name} root`);
  const cnf = join(dir, "req.cnf");
  const keyPath = join(dir, "tsa.key");
  const csrPath = join(dir, "tsa.csr");
  const certPath = join(dir, "tsa.pem");
  run(["req", "-new", "-config", cnf, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyPath, "-subj", `/O=Trustline tests/CN=${name}`, "-out", csrPath], dir);
  run(["x509", "-req", "-in", csrPath, "-CA", root.certPath, "-CAkey", root.keyPath, "-set_serial", "0x1001", "-days", "365", "-sha256", "-extfile", cnf, "-extensions", "tsa_ext", "-out", certPath], dir);

  writeFileSync(join(dir, "tsaserial"), "01\n");
  const tsCnf = join(dir, "ts.cnf");
  writeFileSync(
    tsCnf,
    `[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = ${dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = ${TSA_POLICY}
other_policies = 1.2.3.4.5
digests = sha256, sha384, sha512
accuracy = secs:1
clock_precision_digits = 0
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`,
  );

  let queue: Promise<unknown> = Promise.resolve();
  let seq = 0;
  let granted = 0;
  const reply = (query: Buffer): Promise<Buffer> => {
    const n = ++seq;
    const q = join(dir, `q${n}.tsq`);
    const r = join(dir, `r${n}.tsr`);
    writeFileSync(q, query);
    return new Promise((resolve, reject) => {
      execFile("openssl", ["ts", "-reply", "-config", tsCnf, "-queryfile", q, "-out", r], { cwd: dir }, (error, _stdout, stderr) => {
        if (error) reject(new Error(`openssl ts -reply failed: ${stderr}`));
        else resolve(readFileSync(r));
      });
    });
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.headers["content-type"] !== "application/timestamp-query") {
        res.writeHead(req.method !== "POST" ? 405 : 415, { "content-type": "text/plain" }).end("POST application/timestamp-query\n");
        return;
      }
      // Serialize: one `openssl ts -reply` at a time.
      const answer = queue.then(() => reply(Buffer.concat(chunks)));
      queue = answer.catch(() => undefined);
      answer.then(
        (body) => {
          granted++;
          res.writeHead(200, { "content-type": "application/timestamp-reply", "content-length": body.length }).end(body);
        },
        (e: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(e.message),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/tsr`,
    dir,
    root,
    certPath,
    granted: () => granted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
