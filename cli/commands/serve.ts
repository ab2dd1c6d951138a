import { Command } from "commander";
import { type ClusterEstOptions, type EstLimits, type EstOptions, type Home, isServeWorker, tlsServerIdentity, runServeWorker, serveWithWorkers, startEstServer, startServer, TrustlineError } from "../../ca/index.js";
import { examples, globals, homeOptions, openHome } from "../context.js";
import { readPemInput } from "../files.js";

interface EstFlags {
  est?: boolean;
  estPort: string;
  estHost?: string;
  tlsCert?: string;
  tlsKey?: string;
  estRate?: string;
}

function portNumber(text: string, flag: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TrustlineError("USAGE", `${flag} "${text}" is not a port number`);
  return port;
}

/** What `--est` asks for, or undefined without it. The TLS identity: --tls-cert/--tls-key, else the home's. */
function estOptions(opts: EstFlags, host: string): ClusterEstOptions | undefined {
  if (!opts.est) {
    if (opts.tlsCert || opts.tlsKey || opts.estRate) throw new TrustlineError("USAGE", "--tls-cert, --tls-key and --est-rate go with --est");
    return undefined;
  }
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new TrustlineError("USAGE", "give both --tls-cert and --tls-key (or neither: the home's certificate from `trustline ca issue-tls`)");
  const limits: Partial<EstLimits> = {};
  if (opts.estRate !== undefined) {
    const rate = Number(opts.estRate);
    if (!Number.isFinite(rate) || rate < 0 || rate > 1_000_000) throw new TrustlineError("USAGE", `--est-rate "${opts.estRate}" must be a number of requests a second (0: no limit)`);
    (limits as { ratePerStation: number }).ratePerStation = rate;
  }
  let tls: EstOptions["tls"] | undefined;
  if (opts.tlsCert && opts.tlsKey) tls = { certificatePem: readPemInput(opts.tlsCert, "TLS certificate"), key: readPemInput(opts.tlsKey, "TLS key") };
  return {
    host: opts.estHost ?? host,
    port: portNumber(opts.estPort, "--est-port"),
    limits,
    ...(tls ? { tls } : { homeTls: homeTlsIdentity }),
  };
}

export function serveCommand(): Command {
  return new Command("serve")
    .description("serve CRLs, CA certificates and OCSP (RFC 6960) over HTTP at the URLs the certificates name")
    .option("--port <n>", "TCP port", "8080")
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .option("--workers <n>", "processes answering requests (one more issues CRLs); more use more cores", "1")
    .option("--est", "also serve EST enrollment (RFC 7030) over mutual TLS: stations enroll devices, devices renew")
    .option("--est-port <n>", "with --est: the HTTPS port", "8443")
    .option("--est-host <address>", "with --est: the address to listen on (default: --host)")
    .option("--tls-cert <file>", "with --est: the server's certificate and chain (PEM) from elsewhere (default: the home's, from `trustline ca issue-tls`)")
    .option("--tls-key <file>", "with --est: its private key (PEM)")
    .option("--est-rate <n>", `with --est: enrollments a second per station (and renewals per device) on average, twice that at once; 0: no limit`)
    .addHelpText(
      "after",
      examples(
        "trustline serve --passphrase-file /run/secrets/ca-pass",
        "trustline serve --host 0.0.0.0 --port 8080 --workers 4 --passphrase-file /run/secrets/ca-pass",
        "openssl ocsp -issuer device-ca.pem -cert dev.pem -url http://127.0.0.1:8080/ocsp/device -CAfile root.pem",
        "trustline serve --est --host 0.0.0.0 --est-port 8443 --workers 2 --passphrase-file /run/secrets/ca-pass",
        "curl --cacert root.pem --cert line-7.pem --key line-7.key -H 'Authorization: Bearer ...' -H 'Content-Type: application/pkcs10' --data-binary @dev.b64 https://ca.plant:8443/.well-known/est/simpleenroll",
      ) +
        "\nStops cleanly on SIGTERM or Ctrl-C. Revocations are visible to OCSP within a second; CRLs are re-issued after each change.\n",
    )
    .action(async (opts: { port: string; host: string; workers: string } & EstFlags, command: Command) => {
      const port = portNumber(opts.port, "--port");
      const est = estOptions(opts, opts.host);
      const workers = Number(opts.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new TrustlineError("USAGE", `--workers "${opts.workers}" must be a whole number from 1 to 64`);
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}${isServeWorker() ? ` [worker ${process.pid}]` : ""}\n`);
      const stopOnSignal = (close: () => Promise<void>) =>
        new Promise<void>((resolve) => {
          const stop = () => {
            log("stopping");
            void close().then(resolve);
          };
          process.once("SIGTERM", stop);
          process.once("SIGINT", stop);
        });
      const options = homeOptions(globals(command), true);
      if (isServeWorker()) {
        const server = await runServeWorker({ home: options, host: opts.host, port, log, ...(est ? { est } : {}) });
        return stopOnSignal(server.close);
      }
      if (workers > 1) {
        const cluster = await serveWithWorkers({ home: options, workers, host: opts.host, port, log, ...(est ? { est } : {}) });
        const url = `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}`;
        const estUrl = est ? `https://${est.host.includes(":") ? `[${est.host}]` : est.host}:${est.port}` : undefined;
        if (globals(command).json) process.stdout.write(`${JSON.stringify({ url, workers, ...(estUrl ? { est: estUrl } : {}) })}\n`);
        else log(`serving ${url} with ${workers} worker processes: CRLs /crl/<ca>.crl, OCSP /ocsp/<ca>, CA certificates /ca/<ca>.cer${estUrl ? `; EST ${estUrl}/.well-known/est` : ""}`);
        return stopOnSignal(cluster.close);
      }
      const home = await openHome(command, true);
      const server = await startServer(home, { host: opts.host, port, log });
      let estServer: Awaited<ReturnType<typeof startEstServer>> | undefined;
      try {
        estServer = est ? await startEstServer(home, { host: est.host, port: est.port, responder: server.responder, log, tls: est.tls ?? (await est.homeTls!(home)), ...(est.limits ? { limits: est.limits } : {}) }) : undefined;
      } catch (e) {
        await server.close();
        throw e;
      }
      if (globals(command).json) process.stdout.write(`${JSON.stringify({ url: server.url, cas: server.responder.cas, ...(estServer ? { est: estServer.url } : {}) })}\n`);
      else log(`serving ${server.url}: CRLs /crl/<ca>.crl, OCSP /ocsp/<ca>, CA certificates /ca/<ca>.cer for ${server.responder.cas.join(", ")}${estServer ? `; EST ${estServer.url}/.well-known/est` : ""}`);
      return stopOnSignal(async () => {
        await estServer?.close();
        await server.close();
      });
    });
}

/** The home's EST server identity (`trustline ca issue-tls`): the key decrypted in memory, for node's TLS. */
function homeTlsIdentity(home: Home): Promise<EstOptions["tls"]> {
  return tlsServerIdentity(home);
}
