/**
 * A throwaway PostgreSQL server: initdb into a temp folder, a Unix socket only
 * (listen_addresses=''), run as the unprivileged `postgres` user when we are root (initdb refuses
 * root), local connections trusted. For the tests (fsync off: none is about the disk) and the
 * benchmark (`durable: true` keeps PostgreSQL's defaults, so it is measured as deployed).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN_DIRS = ["/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"];

export function bin(name: string): string | undefined {
  for (const dir of BIN_DIRS) if (existsSync(join(dir, name))) return join(dir, name);
  const which = spawnSync("which", [name], { encoding: "utf8" });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

/** Why the PostgreSQL tests cannot run here (no server binaries), or false. */
export const POSTGRES_MISSING: string | false = bin("initdb") && bin("pg_ctl") ? false : "PostgreSQL server binaries (initdb, pg_ctl) are not installed: .ci/run installs postgresql";

/** Run a server binary as the unprivileged `postgres` user when we are root. */
function asServerUser(cmd: string, args: readonly string[]): void {
  const root = process.getuid?.() === 0;
  const argv = root ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", cmd, ...args] : [cmd, ...args];
  execFileSync(argv[0]!, argv.slice(1), { stdio: "pipe", env: { PATH: process.env.PATH ?? "", LC_ALL: "C" } });
}

/** Start a server in a temp folder (the caller stops it). */
export function startPostgres(options: { durable?: boolean } = {}): { host: string; stop: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "tl-pg-"));
  const data = join(dir, "data");
  const root = process.getuid?.() === 0;
  if (root) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o755);
  asServerUser(bin("initdb")!, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  writeFileSync(join(data, "postgresql.auto.conf"), `listen_addresses = ''\nunix_socket_directories = '${dir}'\n${options.durable ? "" : "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"}max_connections = 200\n`);
  asServerUser(bin("pg_ctl")!, ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", "start"]);
  let stopped = false;
  return {
    host: dir,
    stop: () => {
      if (stopped) return;
      stopped = true;
      try {
        asServerUser(bin("pg_ctl")!, ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

