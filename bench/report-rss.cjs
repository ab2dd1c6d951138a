// Preloaded with `node -r` by the benchmarks: report the process's peak RSS (workers included) on exit.
// VmHWM is this program's own peak. getrusage's maxRSS is not: on Linux it survives execve, so a
// child forked from a large benchmark process would report its parent's size (seen: 223 MB for a
// 63 MB firmware signer run after the CRL suite).
process.on("exit", () => {
  const fs = require("node:fs");
  let kb = process.resourceUsage().maxRSS;
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (m) kb = Number(m[1]);
  } catch {
    /* not Linux: getrusage is the best there is */
  }
  fs.writeSync(2, `\nTRUSTLINE_BENCH_MAXRSS_KB ${kb}\n`);
});
