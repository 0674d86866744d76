/**
 * `make bench-maintenance`: a table of 10,000 small files (about 1,000,000 order-item rows,
 * 100 per file, written straight through this Delta writer), copied; then `tables optimize`
 * (the compiled binary) on one copy and delta-rs' `DeltaTable.optimize.compact()` on the
 * other, each in its own process under /usr/bin/time -v, with the same target size. Prints
 * seconds, files before/after and peak RSS side by side, with the ratio. Asserts nothing:
 * the figures are for reading (targets: at least as fast as delta-rs, under 512 MiB).
 *
 * BENCH_FILES and BENCH_ROWS_PER_FILE change the table; DS_BIN names the binary
 * (default dist/data-subscriber).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { pythonBin } from "../helpers/servers.ts";
import { ORDER_ITEMS_SCHEMA, orderItemRows } from "./order_items.ts";

const FILES = Number(process.env.BENCH_FILES ?? 10_000);
const PER_FILE = Number(process.env.BENCH_ROWS_PER_FILE ?? 100);
const TARGET = 128 * 1024 * 1024;
const BIN = process.env.DS_BIN ?? "dist/data-subscriber";

interface Run {
  seconds: number;
  filesBefore: number;
  filesAfter: number;
  peakRssMiB: number;
}

/** Runs a command under /usr/bin/time -v: its stdout, and the peak RSS it reports. */
function timed(cmd: string, args: string[]): { stdout: string; peakRssMiB: number; wallSeconds: number } {
  const t0 = performance.now();
  const r = spawnSync("/usr/bin/time", ["-v", cmd, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const wallSeconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stderr}`);
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return { stdout: r.stdout, peakRssMiB: m ? Number(m[1]) / 1024 : NaN, wallSeconds };
}

async function build(dir: string): Promise<void> {
  const table = await DeltaTable.openOrCreate(new LocalStore(dir), { schema: ORDER_ITEMS_SCHEMA }, { maxRowsPerFile: PER_FILE });
  const perCommit = 1000;
  for (let f = 0; f < FILES; f += perCommit) {
    const n = Math.min(perCommit, FILES - f);
    const adds = await table.writeFiles(orderItemRows(f * PER_FILE, n * PER_FILE));
    await table.commitFiles(adds, [], { operation: "WRITE", operationParameters: { mode: "Append", partitionBy: "[]" } });
  }
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "ds-bench-maint-"));
try {
  const ours = path.join(root, "ours");
  const theirs = path.join(root, "delta_rs");
  const t0 = performance.now();
  await build(ours);
  fs.cpSync(ours, theirs, { recursive: true });
  const bytes = fs.readdirSync(ours).filter((n) => n.endsWith(".parquet")).reduce((s, n) => s + fs.statSync(path.join(ours, n)).size, 0);
  console.log(`table: ${FILES} files × ${PER_FILE} rows = ${FILES * PER_FILE} rows, ${(bytes / 1048576).toFixed(1)} MiB of Parquet (built and copied in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const a = timed(BIN, ["tables", "optimize", ours, "--target-size", String(TARGET), "--json", "--log-level", "warn"]);
  const rep = JSON.parse(a.stdout).tables[0];
  const us: Run = { seconds: a.wallSeconds, filesBefore: rep.filesBefore, filesAfter: rep.filesAfter, peakRssMiB: a.peakRssMiB };
  const b = timed(pythonBin(), [path.join(import.meta.dirname ?? "tests/bench", "delta_rs_optimize.py"), theirs, String(TARGET)]);
  const dr = JSON.parse(b.stdout.trim().split("\n").pop()!);
  const them: Run = { seconds: b.wallSeconds, filesBefore: dr.filesBefore, filesAfter: dr.filesAfter, peakRssMiB: b.peakRssMiB };

  const row = (name: string, r: Run) => `${name.padEnd(28)} ${r.seconds.toFixed(2).padStart(8)} s  ${String(r.filesBefore).padStart(6)} → ${String(r.filesAfter).padEnd(4)} ${r.peakRssMiB.toFixed(0).padStart(6)} MiB`;
  console.log(`\n${"".padEnd(28)} ${"wall".padStart(10)}  files         peak RSS`);
  console.log(row("data-subscriber optimize", us));
  console.log(row("delta-rs optimize.compact()", them));
  console.log(`\nratio (delta-rs / data-subscriber): time ${(them.seconds / us.seconds).toFixed(2)}×, peak RSS ${(them.peakRssMiB / us.peakRssMiB).toFixed(2)}×`);
  console.log(`(wall time of each process, start-up and opening the table included; delta-rs reports ${JSON.stringify({ numFilesAdded: dr.metrics?.numFilesAdded, numFilesRemoved: dr.metrics?.numFilesRemoved })})`);
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
