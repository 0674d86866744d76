/**
 * `make bench`: 200,000 generated orders from an in-memory source through validation,
 * every processor, Parquet and Delta commits to a local folder, in one process; prints
 * orders/s, MB/s of input, p50/p99 batch commit latency and peak RSS, and beside them
 * the time `JSON.parse` alone takes over the same bytes (the floor).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { orderDomain } from "../../src/domains/orders/order_domain.ts";
import { PACKAGE_TABLE } from "../../src/domains/orders/package_table.ts";
import { AutoCompactor } from "../../src/engine/auto_compactor.ts";
import { DeltaSink } from "../../src/engine/delta_sink.ts";
import { Supervisor } from "../../src/engine/supervisor.ts";
import { generatePackages } from "../../src/produce/order_generator.ts";
import { systemClock } from "../../src/ports/clock.ts";
import { runtimeCommand } from "../helpers/runtime.ts";
import { GeneratedSource } from "./generated_source.ts";

const ORDERS = Number(process.env.BENCH_ORDERS ?? 200_000);
const SHARDS = 4;

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 1048576;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

async function pipeline(root: string): Promise<void> {
  const tables = ["events", "orders", "orders_items", "quarantine", "package_table"];
  const stores = Object.fromEntries(tables.map((t) => [t, new LocalStore(path.join(root, t))]));
  const pkg = await DeltaTable.openOrCreate(stores.package_table!, PACKAGE_TABLE.spec);
  await pkg.append(generatePackages(100_000_000));
  const source = new GeneratedSource(ORDERS, SHARDS);
  // BENCH_AUTO_COMPACT=n: auto-compaction on, size tiers of n files (the latency and memory it costs).
  let compactions = 0;
  const compactor = process.env.BENCH_AUTO_COMPACT
    ? new AutoCompactor({ clock: systemClock, minFiles: Number(process.env.BENCH_AUTO_COMPACT), events: { compactionDone: (_t, result) => void (result === "compacted" && compactions++) } })
    : undefined;
  const sink = await DeltaSink.open(orderDomain(), stores, {
    stream: source.streamName,
    clock: systemClock,
    writer: { codec: (process.env.BENCH_CODEC ?? "zstd") as "zstd" },
    ...(compactor ? { compactor } : {}),
  });
  const latencies: number[] = [];
  let started = performance.now();
  let inputBytes = 0;
  const sub = new Supervisor(source, new ShardStateStore(new LocalStore(path.join(root, "checkpoints")), "bench/"), systemClock, sink, {
    lease: { workerId: "bench" },
    batch: { maxRecords: 10_000, maxAgeMs: 10_000 },
    // An in-memory stream has no per-shard read limits: measure the pipeline, not Kinesis's 2 MiB/s.
    reader: { maxBytesPerSecond: Infinity, maxCallsPerSecond: 1000 },
  }, {
    batchCommitted: (info) => {
      latencies.push(info.ms);
      if (process.env.BENCH_TRACE) console.error(`batch at ${((performance.now() - started) / 1000).toFixed(2)} s: ${info.records} records in ${Math.round(info.ms)} ms, rss ${Math.round(process.memoryUsage.rss() / 1048576)} MiB heap ${Math.round(process.memoryUsage().heapUsed / 1048576)} ab ${Math.round((process.memoryUsage().arrayBuffers ?? 0) / 1048576)}`);
      inputBytes += info.bytes;
    },
  });
  started = performance.now();
  await sub.run(new AbortController().signal, { once: true });
  const seconds = (performance.now() - started) / 1000;
  await compactor?.close();
  console.log(JSON.stringify({ seconds, inputBytes, batches: latencies.length, p50: pct(latencies, 50), p99: pct(latencies, 99), max: pct(latencies, 100), rss: peakRssMiB(), compactions }));
}

/** The floor: decoding and parsing the same bytes, nothing else. */
function parseFloor(): void {
  const source = new GeneratedSource(ORDERS, SHARDS);
  const per = Math.ceil(ORDERS / SHARDS);
  const dec = new TextDecoder();
  let parseMs = 0;
  let bytes = 0;
  for (let s = 0; s < SHARDS; s++) {
    for (let i = 0; i < per; i += 10_000) {
      const chunk = Array.from({ length: Math.min(10_000, per - i) }, (_, k) => source.record(s, i + k));
      const t = performance.now();
      for (const b of chunk) JSON.parse(dec.decode(b));
      parseMs += performance.now() - t;
      for (const b of chunk) bytes += b.length;
    }
  }
  console.log(JSON.stringify({ parseSeconds: parseMs / 1000, bytes }));
}

const mode = process.argv[2];
if (mode === "--pipeline") await pipeline(process.argv[3]!);
else if (mode === "--parse") parseFloor();
else {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-pipeline-"));
  const self = new URL(import.meta.url).pathname;
  // One core, as the target says: pinned with taskset where it exists.
  const pinned = spawnSync("taskset", ["-c", "0", "true"]).status === 0;
  const run = (args: string[]) => {
    const [cmd, argv] = runtimeCommand(self, args);
    const r = pinned
      ? spawnSync("taskset", ["-c", "0", cmd, ...argv], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
      : spawnSync(cmd, argv, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`bench child failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").pop()!);
  };
  const p = run(["--pipeline", root]);
  const f = run(["--parse"]);
  fs.rmSync(root, { recursive: true, force: true });
  const mb = p.inputBytes / 1e6;
  const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d });
  console.log(`bench: ${fmt(ORDERS)} orders (${fmt(mb, 1)} MB of JSON) from ${SHARDS} in-memory shards → 5 Delta tables in a local folder, batches of 10,000, ${pinned ? "on one core (taskset -c 0)" : "unpinned (no taskset)"}\n`);
  console.log(`${"".padEnd(30)} ${"seconds".padStart(8)} ${"orders/s".padStart(10)} ${"MB/s".padStart(8)}`);
  console.log(`${"pipeline (all of it)".padEnd(30)} ${fmt(p.seconds, 2).padStart(8)} ${fmt(ORDERS / p.seconds).padStart(10)} ${fmt(mb / p.seconds, 1).padStart(8)}`);
  console.log(`${"JSON.parse alone (the floor)".padEnd(30)} ${fmt(f.parseSeconds, 2).padStart(8)} ${fmt(ORDERS / f.parseSeconds).padStart(10)} ${fmt(f.bytes / 1e6 / f.parseSeconds, 1).padStart(8)}`);
  console.log(`\nbatches ${p.batches}; commit latency p50 ${fmt(p.p50)} ms, p99 ${fmt(p.p99)} ms, max ${fmt(p.max)} ms; peak RSS ${fmt(p.rss, 1)} MiB${process.env.BENCH_AUTO_COMPACT ? `; ${p.compactions} auto-compaction(s) (tiers of ${process.env.BENCH_AUTO_COMPACT} files)` : ""}`);
  console.log(`targets: ≥ 20,000 orders/s on one core, peak RSS < 512 MiB; pipeline / floor = ${(p.seconds / f.parseSeconds).toFixed(1)}×`);
}
