import { Command } from "commander";
import { startServer, TrustlineError } from "../../ca/index.js";
import { examples, globals, openHome } from "../context.js";

export function serveCommand(): Command {
  return new Command("serve")
    .description("serve CRLs, CA certificates and OCSP (RFC 6960) over HTTP at the URLs the certificates name")
    .option("--port <n>", "TCP port", "8080")
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .addHelpText(
      "after",
      examples("trustline serve --passphrase-file /run/secrets/ca-pass", "openssl ocsp -issuer device-ca.pem -cert dev.pem -url http://127.0.0.1:8080/ocsp/device -CAfile root.pem") +
        "\nStops cleanly on SIGTERM or Ctrl-C. Revocations are visible to OCSP within a second; CRLs are re-issued after each change.\n",
    )
    .action(async (opts: { port: string; host: string }, command: Command) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TrustlineError("USAGE", `--port "${opts.port}" is not a port number`);
      const home = await openHome(command, true);
      const json = globals(command).json;
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      const server = await startServer(home, { host: opts.host, port, log });
      if (json) process.stdout.write(`${JSON.stringify({ url: server.url, cas: server.responder.cas })}\n`);
      else log(`serving ${server.url}: CRLs /crl/<ca>.crl, OCSP /ocsp/<ca>, CA certificates /ca/<ca>.cer for ${server.responder.cas.join(", ")}`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          log("stopping");
          void server.close().then(resolve);
        };
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
      });
    });
}
