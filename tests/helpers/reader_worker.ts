/**
 * Test helper process: one worker of a several-process subscriber. It reads a kinesis-local
 * stream with `KinesisSource`, keeps leases and checkpoints in a shared `LocalStore` folder and
 * writes batches to the same folder through `LogHandler` (the "tables").
 *
 * Usage: reader_worker.ts '<json>' with {@link ReaderWorkerConfig}. Every `reportEveryMs` it
 * prints one JSON line ({@link WorkerReport}) to stdout. SIGTERM, or its stdin closing, stops
 * it gracefully (commit what was read, release the leases, exit 0); SIGKILL is a crash.
 * A fatal error is printed to stderr and exits 1. The last line carries the exit code, since
 * Deno's `node:child_process` reports a child it sent SIGTERM as killed by the signal even
 * when the child handled it and exited on its own.
 * @module
 */
import { POLICIES } from "../../src/core/retry/policies.ts";
import { KinesisSource } from "../../src/adapters/kinesis/kinesis_source.ts";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
import { Supervisor } from "../../src/engine/supervisor.ts";
import { systemClock } from "../../src/ports/clock.ts";
import { KINESIS_LOCAL_CREDENTIALS, KINESIS_LOCAL_REGION } from "./kinesis_local.ts";
import { LogHandler } from "./log_handler.ts";

export interface ReaderWorkerConfig {
  endpoint: string;
  stream: string;
  /** The shared LocalStore folder: checkpoints under `checkpoints/`, the log under `log/`. */
  folder: string;
  workerId: string;
  leaseDurationMs: number;
  renewIntervalMs: number;
  maxBatchRecords: number;
  maxBatchAgeMs: number;
  idleDelayMs: number;
  reportEveryMs: number;
}

/** One line of a worker's stdout. */
export interface WorkerReport {
  workerId: string;
  /** The shards this worker believes it holds (its lease manager's view), sorted. */
  held: string[];
  /** Wall-clock ms when the line was made. */
  t: number;
  /** Batches this worker wrote, and found already written (replays). */
  written: number;
  skipped: number;
  /** Set on the last line, printed once the run has stopped: the exit code that follows. */
  exitCode?: number;
}

const arg = process.argv[2];
if (!arg) throw new Error("usage: reader_worker.ts '<json config>'");
const cfg = JSON.parse(arg) as ReaderWorkerConfig;

const client = KinesisSource.client({ endpoint: cfg.endpoint, region: KINESIS_LOCAL_REGION, credentials: KINESIS_LOCAL_CREDENTIALS });
const source = new KinesisSource(cfg.stream, client);
const store = new LocalStore(cfg.folder);
const handler = new LogHandler(store, cfg.workerId);
const sub = new Supervisor(source, new ShardStateStore(store, "checkpoints/"), systemClock, handler, {
  appName: "test",
  batch: { maxRecords: cfg.maxBatchRecords, maxAgeMs: cfg.maxBatchAgeMs },
  reader: { idleDelayMs: cfg.idleDelayMs, backoffMs: 50, maxBackoffMs: 500, maxCallsPerSecond: 20 },
  lease: { workerId: cfg.workerId, leaseDurationMs: cfg.leaseDurationMs, renewIntervalMs: cfg.renewIntervalMs, shardSyncIntervalMs: 1_000 },
  commitPolicy: { ...POLICIES.batchCommit, attempts: 3 },
});

const stop = new AbortController();
process.on("SIGTERM", () => stop.abort());
process.stdin.on("data", () => {});
process.stdin.on("end", () => stop.abort());

const report = (exitCode?: number) => {
  const line: WorkerReport = {
    workerId: cfg.workerId, held: sub.leases.heldShards().sort(), t: Date.now(), written: handler.written, skipped: handler.skipped,
    ...(exitCode === undefined ? {} : { exitCode }),
  };
  process.stdout.write(JSON.stringify(line) + "\n");
};
report();
const timer = setInterval(report, cfg.reportEveryMs);

let code = 0;
try {
  await sub.run(stop.signal);
} catch (err) {
  process.stderr.write(`worker ${cfg.workerId} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  code = 1;
}
clearInterval(timer);
report(code);
client.destroy();
process.exit(code);
