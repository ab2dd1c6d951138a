// Preloaded with `node -r` by the benchmarks: report the process's peak RSS (workers included) on exit.
process.on("exit", () => {
  require("node:fs").writeSync(2, `\nTRUSTLINE_BENCH_MAXRSS_KB ${process.resourceUsage().maxRSS}\n`);
});
