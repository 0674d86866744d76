/**
 * `make bench`: 200,000 generated orders (`ORDERS=n` for another count) from an in-memory
 * source through validation, every processor, Parquet and Delta commits to a local folder,
 * in one process pinned to one core; prints orders/s, CPU-seconds, MB/s of input, p50/p99
 * batch commit latency and peak RSS, and beside them the time `JSON.parse` alone takes
 * over the same bytes (the floor).
 *
 * Then latency: orders arriving at `BENCH_RATE` per second (default 2,000) for
 * `BENCH_LATENCY_SECONDS` (default 15) through the application's default reader and batch
 * settings, once at the default batch age (10 s) and once at 1 s; prints p50/p99 of the
 * time from a record's arrival to its rows being visible in every table (all of its
 * batch's commits done), beside the batch commit latency. `BENCH_LATENCY_SECONDS=0` skips it.
 * The bench never asserts a time.
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
import type { BatchSink } from "../../src/engine/batch_sink.ts";
import { generatePackages } from "../../src/produce/order_generator.ts";
import { systemClock } from "../../src/ports/clock.ts";
import { runtimeCommand } from "../helpers/runtime.ts";
import { GeneratedSource } from "./generated_source.ts";

const ORDERS = Number(process.env.ORDERS ?? process.env.BENCH_ORDERS ?? 200_000);
const RATE = Number(process.env.BENCH_RATE ?? 2_000);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 15);
/** The application's default batch age (`--max-batch-age`, 10 s). */
const DEFAULT_AGE_MS = 10_000;
const SHARDS = 4;

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 1048576;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

/**
 * The pipeline over `source` into five tables under `root`: `batch` settings for the
 * batcher, `reader` for the shard readers, `until` the records after which the run stops
 * (undefined: run once, to the tip). Returns per-batch commit times and, for records that
 * carry an arrival time, the time from arrival to the end of their batch's commits.
 */
async function runPipeline(root: string, source: GeneratedSource, opts: { batch: { maxRecords: number; maxAgeMs: number }; reader?: object; until?: number }) {
  const tables = ["events", "orders", "orders_items", "quarantine", "package_table"];
  const stores = Object.fromEntries(tables.map((t) => [t, new LocalStore(path.join(root, t))]));
  const pkg = await DeltaTable.openOrCreate(stores.package_table!, PACKAGE_TABLE.spec);
  await pkg.append(generatePackages(100_000_000));
  // BENCH_AUTO_COMPACT=n: auto-compaction on, size tiers of n files (the latency and memory it costs).
  const compactor = process.env.BENCH_AUTO_COMPACT ? new AutoCompactor({ clock: systemClock, minFiles: Number(process.env.BENCH_AUTO_COMPACT) }) : undefined;
  const sink = await DeltaSink.open(orderDomain(), stores, {
    stream: source.streamName,
    clock: systemClock,
    writer: { codec: (process.env.BENCH_CODEC ?? "zstd") as "zstd" },
    ...(compactor ? { compactor } : {}),
  });
  const latencies: number[] = [];
  const visible: number[] = [];
  const stop = new AbortController();
  let committed = 0;
  let started = performance.now();
  let inputBytes = 0;
  // Visible in every table once the sink's commit returns: every table's commit of the batch is done.
  const timed: BatchSink = {
    weigh: (r) => sink.weigh(r),
    async commit(batch) {
      await sink.commit(batch);
      const now = Date.now();
      for (const s of batch.shards) {
        for (const r of s.records) if (r.approximateArrivalTimestamp) visible.push(now - r.approximateArrivalTimestamp.getTime());
        committed += s.records.length;
      }
      if (opts.until !== undefined && committed >= opts.until) stop.abort();
    },
  };
  const sub = new Supervisor(source, new ShardStateStore(new LocalStore(path.join(root, "checkpoints")), "bench/"), systemClock, timed, {
    lease: { workerId: "bench" },
    batch: opts.batch,
    ...(opts.reader ? { reader: opts.reader } : {}),
  }, {
    batchCommitted: (info) => {
      latencies.push(info.ms);
      if (process.env.BENCH_TRACE) console.error(`batch at ${((performance.now() - started) / 1000).toFixed(2)} s: ${info.records} records in ${Math.round(info.ms)} ms, rss ${Math.round(process.memoryUsage.rss() / 1048576)} MiB heap ${Math.round(process.memoryUsage().heapUsed / 1048576)} ab ${Math.round((process.memoryUsage().arrayBuffers ?? 0) / 1048576)}`);
      inputBytes += info.bytes;
    },
  });
  started = performance.now();
  const cpu0 = process.cpuUsage();
  await sub.run(stop.signal, { once: opts.until === undefined });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, inputBytes, latencies, visible };
}

async function pipeline(root: string): Promise<void> {
  const r = await runPipeline(root, new GeneratedSource(ORDERS, SHARDS), {
    batch: { maxRecords: 10_000, maxAgeMs: 10_000 },
    // An in-memory stream has no per-shard read limits: measure the pipeline, not Kinesis's 2 MiB/s.
    reader: { maxBytesPerSecond: Infinity, maxCallsPerSecond: 1000 },
  });
  console.log(JSON.stringify({ seconds: r.seconds, cpuSeconds: r.cpuSeconds, inputBytes: r.inputBytes, batches: r.latencies.length, p50: pct(r.latencies, 50), p99: pct(r.latencies, 99), rss: peakRssMiB() }));
}

/** Orders arriving at RATE per second for LATENCY_SECONDS, with the default reader and batch settings but `ageMs`. */
async function latency(root: string, ageMs: number): Promise<void> {
  const total = Math.max(SHARDS, Math.round(RATE * LATENCY_SECONDS));
  const r = await runPipeline(root, new GeneratedSource(total, SHARDS, RATE), { batch: { maxRecords: 10_000, maxAgeMs: ageMs }, until: total });
  console.log(JSON.stringify({ orders: total, batches: r.latencies.length, commitP50: pct(r.latencies, 50), commitP99: pct(r.latencies, 99), visibleP50: pct(r.visible, 50), visibleP99: pct(r.visible, 99), rss: peakRssMiB() }));
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
else if (mode === "--latency") await latency(process.argv[3]!, Number(process.argv[4]));
else if (mode === "--parse") parseFloor();
else {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-pipeline-"));
  const self = new URL(import.meta.url).pathname;
  // One core, as the target says: pinned with taskset where it exists.
  const pinned = spawnSync("taskset", ["-c", "0", "true"]).status === 0;
  const run = (args: string[]): Record<string, number> => {
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
  const lat = LATENCY_SECONDS > 0
    ? [DEFAULT_AGE_MS, 1000].map((age) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-latency-"));
      try {
        return { ...run(["--latency", dir, String(age)]), age } as Record<string, number> & { age: number };
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    })
    : [];
  const mb = p.inputBytes! / 1e6;
  const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d });
  console.log(`bench: ${fmt(ORDERS)} orders (${fmt(mb, 1)} MB of JSON) from ${SHARDS} in-memory shards → 5 Delta tables in a local folder, batches of 10,000, ${pinned ? "on one core (taskset -c 0)" : "unpinned (no taskset)"}\n`);
  console.log(`${"".padEnd(30)} ${"seconds".padStart(8)} ${"orders/s".padStart(10)} ${"MB/s".padStart(8)} ${"CPU-s".padStart(7)}`);
  console.log(`${"pipeline (all of it)".padEnd(30)} ${fmt(p.seconds!, 2).padStart(8)} ${fmt(ORDERS / p.seconds!).padStart(10)} ${fmt(mb / p.seconds!, 1).padStart(8)} ${fmt(p.cpuSeconds!, 2).padStart(7)}`);
  console.log(`${"JSON.parse alone (the floor)".padEnd(30)} ${fmt(f.parseSeconds!, 2).padStart(8)} ${fmt(ORDERS / f.parseSeconds!).padStart(10)} ${fmt(f.bytes! / 1e6 / f.parseSeconds!, 1).padStart(8)}`);
  console.log(`\nbatches ${p.batches}; commit latency p50 ${fmt(p.p50!)} ms, p99 ${fmt(p.p99!)} ms; peak RSS ${fmt(p.rss!, 1)} MiB`);
  console.log(`targets: ≥ 60,000 orders/s on one core, peak RSS < 256 MiB (the same at 2,000,000 orders); pipeline / floor = ${(p.seconds! / f.parseSeconds!).toFixed(1)}×`);
  for (const l of lat) {
    console.log(`latency at ${fmt(RATE)} orders/s, batch age ${fmt(l.age / 1000)} s (${fmt(l.orders!)} orders, ${l.batches} batches): arrival → visible in every table p50 ${fmt(l.visibleP50!)} ms, p99 ${fmt(l.visibleP99!)} ms; batch commit p50 ${fmt(l.commitP50!)} ms, p99 ${fmt(l.commitP99!)} ms`);
  }
}
