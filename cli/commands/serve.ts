import { Command } from "commander";
import { isServeWorker, runServeWorker, serveWithWorkers, startServer, TrustlineError } from "../../ca/index.js";
import { examples, globals, homeOptions, openHome } from "../context.js";

export function serveCommand(): Command {
  return new Command("serve")
    .description("serve CRLs, CA certificates and OCSP (RFC 6960) over HTTP at the URLs the certificates name")
    .option("--port <n>", "TCP port", "8080")
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .option("--workers <n>", "processes answering requests (one more issues CRLs); more use more cores", "1")
    .addHelpText(
      "after",
      examples(
        "trustline serve --passphrase-file /run/secrets/ca-pass",
        "trustline serve --host 0.0.0.0 --port 8080 --workers 4 --passphrase-file /run/secrets/ca-pass",
        "openssl ocsp -issuer device-ca.pem -cert dev.pem -url http://127.0.0.1:8080/ocsp/device -CAfile root.pem",
      ) +
        "\nStops cleanly on SIGTERM or Ctrl-C. Revocations are visible to OCSP within a second; CRLs are re-issued after each change.\n",
    )
    .action(async (opts: { port: string; host: string; workers: string }, command: Command) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TrustlineError("USAGE", `--port "${opts.port}" is not a port number`);
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
        const server = await runServeWorker({ home: options, host: opts.host, port, log });
        return stopOnSignal(server.close);
      }
      if (workers > 1) {
        const cluster = await serveWithWorkers({ home: options, workers, host: opts.host, port, log });
        const url = `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}`;
        if (globals(command).json) process.stdout.write(`${JSON.stringify({ url, workers })}\n`);
        else log(`serving ${url} with ${workers} worker processes: CRLs /crl/<ca>.crl, OCSP /ocsp/<ca>, CA certificates /ca/<ca>.cer`);
        return stopOnSignal(cluster.close);
      }
      const home = await openHome(command, true);
      const server = await startServer(home, { host: opts.host, port, log });
      if (globals(command).json) process.stdout.write(`${JSON.stringify({ url: server.url, cas: server.responder.cas })}\n`);
      else log(`serving ${server.url}: CRLs /crl/<ca>.crl, OCSP /ocsp/<ca>, CA certificates /ca/<ca>.cer for ${server.responder.cas.join(", ")}`);
      return stopOnSignal(server.close);
    });
}
