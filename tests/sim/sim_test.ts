/**
 * The deterministic simulation in the test suite: the seeds that once found bugs (kept as
 * regression tests), then a range of seeds. `make sim` runs more; SIM_SEEDS sets how many
 * run here.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { replayCommand, simulate } from "./simulation.ts";

/** Seeds that found a bug, with what it was. Each must pass for ever after. */
const REGRESSIONS: [number, string][] = [
  [88, "a batch's MERGE committed, its intent pending across a 31-day pause: log cleanup removed the commit holding the decision, and the replay could never recover it"],
  [31, "every record of an open shard trimmed (two time jumps) and none put since: its reader waited at the trim horizon for a first record that never came, so the gap was never reported and 32 records were lost silently"],
  [1013, "a run --once job with no reader left, waiting for another owner's lease to be settled, raced its round's sleep against no tasks: the rounds spun without pause (on a real clock, a storm of state reads for up to a lease period; on the fake one, for ever)"],
  [1245, "a paused twin came back to a batch whose shard its next owner had replayed and passed; that replay took no stock, so package_table had no commit of it, and the twin asked for a decision recorded nowhere and exited"],
];

const first = Number(process.env.SIM_FIRST ?? 1);
const count = Number(process.env.SIM_SEEDS ?? 40);

async function check(seed: number): Promise<void> {
  const report = await simulate({ seed });
  assert.ok(report.ok, `seed ${seed} failed (replay: ${replayCommand(seed)}):\n  ${report.failures.join("\n  ")}`);
}

for (const [seed, what] of REGRESSIONS) {
  test(`simulation seed ${seed} (regression: ${what})`, () => check(seed));
}

test(`simulation seeds ${first}..${first + count - 1}: every record once in every table, stock exact, every shard at its tip`, async () => {
  const failed: string[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const report = await simulate({ seed });
    if (!report.ok) failed.push(`seed ${seed} (replay: ${replayCommand(seed)}):\n    ${report.failures.join("\n    ")}`);
  }
  assert.deepEqual(failed, [], failed.join("\n"));
});
