/**
 * `make bench-writer`: 1,000,000 order-item rows (12 columns) written as a Delta table by
 * this writer and by delta-rs (`write_deltalake`), in the same 100,000-row commits, each
 * in its own process; prints rows/s, MB/s and peak RSS side by side, like for like: both
 * starting from rows of their language, and both starting from Arrow data.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { rowsToArrow } from "../../src/core/arrow/rows_to_arrow.ts";
import { ORDER_ITEMS_SCHEMA, orderItemRows } from "./order_items.ts";
import { runtimeCommand } from "../helpers/runtime.ts";
import { pythonBin } from "../helpers/servers.ts";

const TOTAL = Number(process.env.BENCH_ROWS ?? 1_000_000);
const CHUNK = 100_000;

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 1048576;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith(".parquet") && !e.parentPath.endsWith("_delta_log")) n += fs.statSync(path.join(e.parentPath, e.name)).size;
  }
  return n;
}

/**
 * Our writer, from JS rows (`append`), or, with `arrow`, from Arrow batches built before
 * the clock starts (`appendBatches`), as delta-rs is given a pyarrow Table.
 */
async function child(dir: string, arrow: boolean): Promise<void> {
  const table = await DeltaTable.openOrCreate(new LocalStore(dir), { schema: ORDER_ITEMS_SCHEMA });
  let write = 0;
  for (let start = 0; start < TOTAL; start += CHUNK) {
    const rows = orderItemRows(start, Math.min(CHUNK, TOTAL - start));
    const built = arrow ? rowsToArrow(table.dataSchema, rows) : undefined;
    const t0 = performance.now();
    if (built) await table.appendBatches([built]);
    else await table.append(rows);
    write += performance.now() - t0;
  }
  console.log(JSON.stringify({ write_s: write / 1000, peak_rss_mib: peakRssMiB() }));
}

if (process.argv[2] === "--child") {
  await child(process.argv[3]!, process.argv[4] === "arrow");
} else {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-writer-"));
  const ours = path.join(root, "ours");
  const theirs = path.join(root, "delta_rs");
  const oursArrow = path.join(root, "ours_arrow");
  const [cmd, args] = runtimeCommand(new URL(import.meta.url).pathname, ["--child", ours]);
  const a = spawnSync(cmd, args, { encoding: "utf8" });
  if (a.status !== 0) throw new Error(`our writer failed: ${a.stderr}`);
  const [cmdA, argsA] = runtimeCommand(new URL(import.meta.url).pathname, ["--child", oursArrow, "arrow"]);
  const aa = spawnSync(cmdA, argsA, { encoding: "utf8" });
  if (aa.status !== 0) throw new Error(`our writer (Arrow) failed: ${aa.stderr}`);
  const b = spawnSync(pythonBin(), [path.join(path.dirname(new URL(import.meta.url).pathname), "delta_rs_writer.py"), theirs, String(TOTAL), String(CHUNK)], { encoding: "utf8" });
  if (b.status !== 0) throw new Error(`delta-rs writer failed: ${b.stderr}`);
  const o = JSON.parse(a.stdout.trim().split("\n").pop()!);
  const oa = JSON.parse(aa.stdout.trim().split("\n").pop()!);
  const d = JSON.parse(b.stdout.trim().split("\n").pop()!);
  const oursMB = dirBytes(ours) / 1e6;
  const theirsMB = dirBytes(theirs) / 1e6;
  const arrowMB = d.arrow_bytes / 1e6;
  const rps = (s: number) => Math.round(TOTAL / s);
  const fmt = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 1 });
  const line = (name: string, s: number, files: number | undefined, rss: number | undefined) =>
    console.log(`${name.padEnd(34)} ${fmt(rps(s)).padStart(10)} ${fmt(arrowMB / s).padStart(8)} ${(files === undefined ? "" : fmt(files)).padStart(14)} ${(rss === undefined ? "" : fmt(rss)).padStart(13)}`);
  console.log(`bench-writer: ${TOTAL.toLocaleString("en-US")} order-item rows, 12 columns, ${CHUNK.toLocaleString("en-US")} rows per commit, zstd`);
  console.log(`MB/s: the rows' in-memory Arrow size (${fmt(arrowMB)} MB) divided by the write time\n`);
  console.log(`${"writer".padEnd(34)} ${"rows/s".padStart(10)} ${"MB/s".padStart(8)} ${"parquet MB".padStart(14)} ${"peak RSS MiB".padStart(13)}`);
  line("data-subscriber (JS rows → Delta)", o.write_s, oursMB, o.peak_rss_mib);
  line("delta-rs (Python rows → Delta)", d.write_s + d.convert_s, undefined, undefined);
  line("data-subscriber (Arrow → Delta)", oa.write_s, dirBytes(oursArrow) / 1e6, oa.peak_rss_mib);
  line("delta-rs (pyarrow Table → Delta)", d.write_s, theirsMB, d.peak_rss_mib);
  console.log(
    `\nratio data-subscriber / delta-rs, like for like: ${((d.write_s + d.convert_s) / o.write_s).toFixed(2)} from rows, ` +
      `${(d.write_s / oa.write_s).toFixed(2)} from Arrow (target ≥ 0.50); ` +
      `peak RSS ${fmt(Math.max(o.peak_rss_mib, oa.peak_rss_mib))} MiB (target < 512 MiB)`,
  );
  fs.rmSync(root, { recursive: true, force: true });
}
