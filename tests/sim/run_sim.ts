/**
 * `make sim`: runs seeds of the deterministic simulation and prints, per seed, the virtual
 * time, the faults injected and the verdict; a failing seed prints the command that
 * replays it. SEED=n runs one seed (verbose with SIM_VERBOSE=1); SEEDS=n runs n seeds from
 * SIM_FIRST (default: a random start, printed); SIM_COMPACTION=1 adds auto-compaction and an
 * outside OPTIMIZE that crashes.
 */
import { replayCommand, simulate } from "./simulation.ts";

const env = process.env;
const one = env.SEED !== undefined && env.SEED !== "" ? Number(env.SEED) : undefined;
const first = one ?? (env.SIM_FIRST ? Number(env.SIM_FIRST) : Math.floor(Math.random() * 1_000_000));
const n = one !== undefined ? 1 : Number(env.SEEDS ?? 20);
const totals = new Map<string, number>();
let virtualMs = 0;
let failed = 0;
const started = performance.now();
for (let seed = first; seed < first + n; seed++) {
  const t0 = performance.now();
  const compaction = Boolean(env.SIM_COMPACTION);
  const report = await simulate({ seed, compaction, ...(env.SIM_VERBOSE ? { log: (l: string) => console.log(`  ${l}`) } : {}) });
  virtualMs += report.virtualMs;
  for (const [k, v] of report.counts) totals.set(k, (totals.get(k) ?? 0) + v);
  const faults = [...report.counts].map(([k, v]) => `${k}=${v}`).join(" ");
  console.log(`seed ${seed}: ${report.ok ? "ok" : "FAILED"} in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${(report.virtualMs / 60_000).toFixed(1)} virtual min; ${faults}`);
  if (!report.ok) {
    failed++;
    for (const f of report.failures) console.log(`  ✗ ${f}`);
    console.log(`  replay: ${replayCommand(seed, compaction)}`);
  }
}
console.log(`\n${n} seed(s), ${failed} failed; ${(virtualMs / 3_600_000).toFixed(2)} virtual hours in ${((performance.now() - started) / 1000).toFixed(0)} s`);
console.log(`injected: ${[...totals].sort().map(([k, v]) => `${k}=${v}`).join(" ")}`);
process.exit(failed > 0 ? 1 : 0);
