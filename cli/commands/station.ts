/** `trustline station`: production-line stations that enrol devices over EST (mutual TLS). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { addStation, chainToRoot, disableStation, enableStation, type KeyAlgorithm, listStations, policy, type StationRecord, TrustlineError } from "../../ca/index.js";
import { emit, examples, openHome } from "../context.js";
import { assertWritable, ensureDir, writeOutput } from "../files.js";

export function parseDays(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new TrustlineError("USAGE", `--days must be a whole number of days, not "${v}"`);
  return n;
}

function describeStation(s: StationRecord): string {
  return `${s.name.padEnd(20)} ${s.status.padEnd(8)} CA ${s.ca.padEnd(10)} serial ${s.serial}  until ${s.notAfter}${s.status === "disabled" ? `  (disabled ${s.disabledAt} by ${s.disabledBy})` : ""}`;
}

export function stationCommand(): Command {
  const station = new Command("station").description("production-line stations that enrol devices over EST (mutual TLS): add, list, disable, enable");

  station
    .command("add")
    .argument("<name>", "the station's name: lowercase letters, digits, - and . (e.g. line-7)")
    .description("enrol a station: generate its key here, issue its station certificate (clientAuth) from the device CA, and write key, certificate, chain and root")
    .requiredOption("--out-dir <dir>", "where <name>.key (mode 0600), <name>.pem, <name>-chain.pem and ca.pem (the root) are written")
    .option("--ca <name>", "issuing CA (a device-ca)", "device")
    .option("--days <n>", "validity in days (default 397, at most 825)", parseDays)
    .addOption(new Option("--algorithm <alg>", "the station's key algorithm").choices(["p256", "p384", "rsa3072", "rsa4096"]).default("p256"))
    .option("--replace", "give an existing station a new key and certificate (its previous certificate is refused from then on)")
    .option("--force", "overwrite existing output files")
    .addHelpText(
      "after",
      examples(
        "trustline station add line-7 --out-dir ./line-7 --passphrase-file /run/secrets/ca-pass",
        "trustline station add line-7 --out-dir ./line-7-new --replace --json",
        "curl --cert line-7/line-7-chain.pem --key line-7/line-7.key --cacert line-7/ca.pem https://est.acme.example/.well-known/est/cacerts",
      ) +
        "\n<name>-chain.pem is the certificate followed by the issuing CA and the root (what a TLS client sends); the key is\nwritten once, never kept in the home: lose it and add the station again with --replace.\n",
    )
    .action(async (name: string, opts: { outDir: string; ca: string; days?: number; algorithm: KeyAlgorithm; replace?: boolean; force?: boolean }, command: Command) => {
      const force = opts.force === true;
      // A name the policy refuses names no file: the library refuses it (audited) before anything is written.
      const valid = policy.stationNameProblems(name).length === 0;
      const paths = { key: join(opts.outDir, `${name}.key`), certificate: join(opts.outDir, `${name}.pem`), chain: join(opts.outDir, `${name}-chain.pem`), ca: join(opts.outDir, "ca.pem") };
      if (valid) {
        ensureDir(opts.outDir);
        for (const p of [paths.key, paths.certificate, paths.chain]) assertWritable(p, force);
        assertWritable(paths.ca, true); // the same root for every station of a folder: checked below
      }
      const home = await openHome(command, true);
      const root = chainToRoot(home, opts.ca).at(-1)!;
      if (valid && !force && existsSync(paths.ca) && readFileSync(paths.ca, "utf8") !== root) {
        throw new TrustlineError("ALREADY_EXISTS", `${paths.ca} exists and holds another certificate than this home's root; refusing to overwrite it (use --force, or another --out-dir)`);
      }
      const added = await addStation(home, name, {
        ca: opts.ca,
        algorithm: opts.algorithm,
        ...(opts.days !== undefined ? { days: opts.days } : {}),
        ...(opts.replace === true ? { replace: true } : {}),
      });
      try {
        writeOutput(paths.key, added.privateKeyPem, { force, mode: 0o600 });
        writeOutput(paths.certificate, added.certificatePem, { force });
        writeOutput(paths.chain, added.certificatePem + added.chainPem.join(""), { force });
        // ca.pem is shared by the stations written to one folder: the same root is left as it is.
        if (!(existsSync(paths.ca) && readFileSync(paths.ca, "utf8") === root)) writeOutput(paths.ca, root, { force: true });
      } catch (e) {
        throw new TrustlineError(
          "DELIVERY_FAILED",
          `station ${name} was added with certificate ${added.station.serial}, but its files could not be written (${e instanceof Error ? e.message : String(e)}); its key is lost: add it again with --replace`,
          { cause: e, details: { serial: added.station.serial, station: name } },
        );
      }
      // The certificate and chain (public) in the JSON; the private key only in its 0600 file.
      emit(command, { station: added.station, certificate: added.certificatePem, chain: added.chainPem, files: paths }, () =>
        [`Added station ${name}: certificate ${added.station.serial} from CA ${added.station.ca}, until ${added.station.notAfter}`, `  wrote ${Object.values(paths).join(", ")} (the key file mode 600)`].join("\n"),
      );
    });

  station
    .command("list")
    .description("list the stations of this home")
    .addHelpText("after", examples("trustline station list", "trustline station list --json"))
    .action(async (_opts: unknown, command: Command) => {
      const home = await openHome(command, false);
      const stations = listStations(home);
      emit(command, stations, () => (stations.length === 0 ? "no stations (trustline station add <name> --out-dir <dir>)" : stations.map(describeStation).join("\n")));
    });

  for (const [verb, run, what] of [
    ["disable", disableStation, "refuse a station from now on (its certificate stays valid; revoke it if its key may be compromised)"],
    ["enable", enableStation, "accept a disabled station again"],
  ] as const) {
    station
      .command(verb)
      .argument("<name>", "the station's name")
      .description(what)
      .addHelpText("after", examples(`trustline station ${verb} line-7`, `trustline station ${verb} line-7 --json`))
      .action(async (name: string, _opts: unknown, command: Command) => {
        const home = await openHome(command, false);
        const record = await run(home, name);
        emit(command, record, () => `Station ${record.name} is ${record.status}`);
      });
  }

  return station;
}
