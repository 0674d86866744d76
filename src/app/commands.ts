import { descriptorOf } from "../core/delta/deletion_vector.ts";
import { systemClock } from "../ports/clock.ts";
import * as fs from "node:fs/promises";
import { openStore } from "../adapters/open_store.ts";
import { kinesisConfig, s3Config } from "../adapters/aws_clients.ts";
import { KinesisSource } from "../adapters/kinesis/kinesis_source.ts";
import { putRecords } from "../adapters/kinesis/kinesis_producer.ts";
import { ConfigError, joinUri, type Settings, tableLocations } from "../config/settings.ts";
import { ShardStateStore } from "../core/shard_state/shard_state_store.ts";
import { describeRestart } from "../core/shard_state/shard_reset.ts";
import type { IteratorPosition, RecordSource } from "../ports/record_source.ts";
import { lostRange, resetCommand } from "../telemetry/run_telemetry.ts";
import { DeltaTable } from "../core/delta/table.ts";
import { TableError } from "../core/delta/errors.ts";
import { PACKAGE_TABLE } from "../domains/orders/package_table.ts";
import { brokenClickstream, generateClickstream } from "../produce/clickstream_generator.ts";
import { generateOrders, generatePackages } from "../produce/order_generator.ts";
import { chooseDomain } from "./domains.ts";
import { parsePackages } from "./packages_file.ts";
import type { Logger } from "@logtape/logtape";

/** `tables init-packages`: creates package_table from rows. @returns rows written. */
export async function initPackages(settings: Settings, rows: Record<string, unknown>[], replace: boolean): Promise<{ url: string; rows: number; version: number }> {
  const url = tableLocations(settings).package_table;
  const store = openStore(url, s3Config(settings));
  const table = await DeltaTable.openOrCreate(store, PACKAGE_TABLE.spec);
  if (table.snapshot.files.size > 0 && !replace) {
    throw new TableError(`package_table at ${url} already has ${table.snapshot.files.size} file(s); pass --replace to overwrite its rows`);
  }
  const res = await table.rewrite([...table.snapshot.files.values()], rows, {
    operation: "WRITE",
    operationParameters: { mode: table.snapshot.files.size > 0 ? "Overwrite" : "Append", partitionBy: "[]" },
  });
  return { url, rows: rows.length, version: res.version ?? table.version };
}

/**
 * The rows of `tables init-packages`: read from a file (`--from`), or the demo catalog of
 * synthetic packages with `stock` units each, only when asked for by name (`--demo`).
 */
export async function packageRows(source: { from: string } | { demo: true; stock: number }): Promise<Record<string, unknown>[]> {
  if ("demo" in source) return generatePackages(source.stock);
  const from = source.from;
  let text: string;
  try {
    text = await fs.readFile(from, "utf8");
  } catch (err) {
    throw new ConfigError(`Cannot read the packages file '${from}': ${(err as Error).message}`);
  }
  return parsePackages(text, from);
}

/**
 * `produce`: puts generated records at `rate` per second: orders like the original
 * publisher's, or (`example: "clickstream"`) page views for `deploy/examples/clickstream.toml`;
 * with `bad`, broken records mixed in.
 */
export async function produce(
  settings: Settings,
  opts: { count: number; rate: number; bad: number; seed: number; example?: "orders" | "clickstream" },
  log: Logger,
): Promise<number> {
  if (!settings.stream) throw new ConfigError("Cannot produce: 'stream' is required (STREAM_NAME or --stream)");
  const enc = new TextEncoder();
  const start = Date.now() - opts.count * 1000;
  let entries: { data: Uint8Array; partitionKey: string }[];
  let broken: (i: number) => string;
  if (opts.example === "clickstream") {
    entries = generateClickstream(opts.count, opts.seed, start).map((e) => ({ data: enc.encode(JSON.stringify(e)), partitionKey: (e.session as { id: string }).id }));
    const samples = brokenClickstream();
    broken = (i) => samples[i % samples.length]!;
  } else {
    entries = generateOrders(opts.count, opts.seed, start).map((o) => ({ data: enc.encode(JSON.stringify(o)), partitionKey: o.order_id as string }));
    broken = (i) => [`{"event_id": "ev-broken-${i}", "order_id": `, JSON.stringify({ event_id: `ev-bad-${i}`, event_type: "ORDER_CREATED", order_id: 123 }), ""][i % 3]!;
  }
  for (let i = 0; i < opts.bad; i++) {
    entries.splice(Math.floor((i + 1) * entries.length / (opts.bad + 1)), 0, { data: enc.encode(broken(i)), partitionKey: `bad-${i}` });
  }
  return await putEntries(settings, entries, { rate: opts.rate, log });
}

/**
 * Puts records on the stream in PutRecords calls of up to 500 (failed entries retried), at
 * `rate` records per second when it is above 0.
 * @returns how many records were put.
 */
export async function putEntries(
  settings: Settings,
  entries: readonly { data: Uint8Array; partitionKey: string }[],
  opts: { rate?: number; log?: Logger } = {},
): Promise<number> {
  if (!settings.stream) throw new ConfigError("Cannot produce: 'stream' is required (STREAM_NAME or --stream)");
  const rate = opts.rate ?? 0;
  const client = KinesisSource.client(kinesisConfig(settings));
  const started = systemClock.wallMs();
  const chunk = rate > 0 ? Math.max(1, Math.min(500, Math.round(rate / 5))) : 500;
  let put = 0;
  try {
    for (let i = 0; i < entries.length; i += chunk) {
      put += await putRecords(client, settings.stream, entries.slice(i, i + chunk));
      if (rate > 0) {
        const due = started + (put / rate) * 1000;
        if (due > systemClock.wallMs()) await systemClock.sleep(due - systemClock.wallMs());
      }
      if (put % 5000 < chunk) opts.log?.info("Put {put} of {total} records on {stream}.", { put, total: entries.length, stream: settings.stream });
    }
  } finally {
    client.destroy();
  }
  return put;
}

/** One shard in `status`. */
export interface ShardStatus {
  shardId: string;
  /**
   * `not started` (no checkpoint yet), `owned` (a worker holds its lease), `free` (nobody
   * does), `finished` (read to its end after a reshard), `stopped` (at a gap: an operator decides).
   */
  state: "not started" | "owned" | "free" | "finished" | "stopped";
  /** The worker holding the lease, or null. */
  owner: string | null;
  /**
   * When the lease runs out unless renewed: the owner's last write plus the lease duration, by
   * the owner's clock (leases are judged on each worker's own clock; this is for reading).
   */
  leaseExpiresAt: string | null;
  /** Batches committed. */
  batch: number;
  /** The last record committed (full sequence number), or null before the first batch. */
  position: { sequenceNumber: string; subSequenceNumber: number } | null;
  /** The batch in flight, if any. */
  intent: { batch: number; records: number; first: string | null; last: string | null } | null;
  /** Where an operator's reset restarts it. */
  restartAt: string | null;
  /** Milliseconds behind the stream's tip, when it could be read. */
  lagMs: number | null;
  /** Why the lag could not be read. */
  lagError?: string;
  stopped: { at: string; by: string; reason: string; mayBeLost: string; resume: string } | null;
}

/** One table in `status`. */
export interface TableStatus {
  name: string;
  url: string;
  /** `missing` before the table exists; `error` when it could not be read (see `error`). */
  state: "ok" | "missing" | "error";
  version: number | null;
  files: number | null;
  rows: number | null;
  error?: string;
}

/** What `status` reports (and `status --json` prints). */
export interface StatusReport {
  stream: string | null;
  shards: ShardStatus[];
  tables: TableStatus[];
}

/**
 * The shard part of `status`: per shard its state, owner, lease expiry, batch, checkpoint and
 * lag; a stopped shard's reason, the range that may be lost and the command that resumes it.
 */
export async function shardStatuses(source: RecordSource, states: ShardStateStore, initial: IteratorPosition, appName: string, leaseDurationMs: number): Promise<ShardStatus[]> {
  const out: ShardStatus[] = [];
  for (const shard of await source.listShards()) {
    const st = (await states.read(shard.shardId))?.state;
    let lagMs: number | null = null;
    let lagError: string | undefined;
    if (st && !st.finished && !st.stopped) {
      try {
        const it = await source.getIterator(shard.shardId, st.position ? { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: st.position.sequenceNumber } : initial);
        lagMs = (await source.getRecords(it, 1)).millisBehindLatest;
      } catch (err) {
        lagError = `${(err as Error).name}: ${(err as Error).message}`;
      }
    }
    const owner = st?.lease.owner ?? null;
    const updated = st ? Date.parse(st.updatedAt) : NaN;
    out.push({
      shardId: shard.shardId,
      state: !st ? "not started" : st.stopped ? "stopped" : st.finished ? "finished" : owner ? "owned" : "free",
      owner,
      leaseExpiresAt: owner && Number.isFinite(updated) ? new Date(updated + leaseDurationMs).toISOString() : null,
      batch: st?.batch ?? 0,
      position: st?.position ? { sequenceNumber: st.position.sequenceNumber, subSequenceNumber: st.position.subSequenceNumber } : null,
      intent: st?.intent
        ? { batch: st.intent.batch, records: st.intent.records, first: st.intent.first?.sequenceNumber ?? null, last: st.intent.last?.sequenceNumber ?? null }
        : null,
      restartAt: st?.restartAt ? describeRestart(st.restartAt) : null,
      lagMs,
      ...(lagError !== undefined ? { lagError } : {}),
      stopped: st?.stopped
        ? {
          at: st.stopped.at,
          by: st.stopped.by,
          reason: st.stopped.reason,
          mayBeLost: lostRange({ stopped: st.stopped, intent: st.stopped.intentBatch !== undefined ? st.intent : null }),
          resume: resetCommand(source.streamName, shard.shardId, appName),
        }
        : null,
    });
  }
  return out;
}

/**
 * The shard part of `status` as text: per shard its owner, batch, checkpoint (the full
 * sequence number) and lag, and for a stopped shard why, what may be lost and how to resume it.
 */
export async function shardStatusLines(source: RecordSource, states: ShardStateStore, initial: IteratorPosition, appName: string, leaseDurationMs = 10_000): Promise<string[]> {
  return formatShardStatus(source.streamName, await shardStatuses(source, states, initial, appName, leaseDurationMs));
}

/** {@link shardStatusLines} from shard statuses already read. */
export function formatShardStatus(stream: string, shards: readonly ShardStatus[]): string[] {
  const checkpoint = (s: ShardStatus) => {
    const cp = s.state === "not started" ? "not started" : s.state === "stopped" ? "STOPPED" : s.state === "finished" ? "finished" : s.position ? `${s.position.sequenceNumber}/${s.position.subSequenceNumber}` : "none yet";
    return cp + (s.intent ? " (intent)" : "") + (s.restartAt ? ` (restarts at ${s.restartAt})` : "");
  };
  const width = Math.max(28, ...shards.map((s) => checkpoint(s).length));
  const lines = [`stream ${stream}`, `  ${"shard".padEnd(22)} ${"owner".padEnd(36)} ${"batch".padStart(6)} ${"checkpoint".padEnd(width)} lag`];
  for (const s of shards) {
    const lag = s.lagMs !== null ? `${s.lagMs} ms` : s.lagError ? `? (${s.lagError.split(":")[0]})` : "-";
    lines.push(`  ${s.shardId.padEnd(22)} ${(s.owner ?? "-").padEnd(36)} ${String(s.batch).padStart(6)} ${checkpoint(s).padEnd(width)} ${lag}`);
    if (s.stopped) {
      lines.push(`      stopped ${s.stopped.at} by ${s.stopped.by}: ${s.stopped.reason}`);
      lines.push(`      may be lost: ${s.stopped.mayBeLost}`);
      lines.push(`      its children wait for it; to resume it: ${s.stopped.resume}`);
    }
  }
  return lines;
}

/** `status`: per shard owner, lease, checkpoint and lag; per table version, files and rows. */
export async function statusReport(settings: Settings): Promise<StatusReport> {
  const s3 = s3Config(settings);
  let shards: ShardStatus[] = [];
  if (settings.stream) {
    const client = KinesisSource.client(kinesisConfig(settings));
    const source = new KinesisSource(settings.stream, client, settings.region ?? "");
    const states = new ShardStateStore(openStore(settings.checkpointsRoot, s3), joinUri(settings.appName, settings.stream, "shards") + "/");
    try {
      shards = await shardStatuses(source, states, settings.initialPosition, settings.appName, settings.leaseDuration);
    } finally {
      client.destroy();
    }
  }
  const tables: TableStatus[] = [];
  for (const [name, url] of Object.entries((await chooseDomain(settings)).locations)) {
    try {
      const t = await DeltaTable.open(openStore(url, s3));
      let rows = 0;
      // numRecords counts a file's rows before its deletion vector.
      for (const f of t.snapshot.files.values()) rows += (f.stats ? (JSON.parse(f.stats) as { numRecords: number }).numRecords : 0) - (descriptorOf(f.deletionVector)?.cardinality ?? 0);
      tables.push({ name, url, state: "ok", version: t.version, files: t.snapshot.files.size, rows });
    } catch (err) {
      if (err instanceof TableError) tables.push({ name, url, state: "missing", version: null, files: null, rows: null });
      else tables.push({ name, url, state: "error", version: null, files: null, rows: null, error: (err as Error).message });
    }
  }
  return { stream: settings.stream ?? null, shards, tables };
}

/** `status` as text, or (`json`) as one JSON document ({@link StatusReport}). */
export async function status(settings: Settings, opts: { json?: boolean } = {}): Promise<string> {
  const report = await statusReport(settings);
  if (opts.json) return JSON.stringify(report, null, 2);
  const lines: string[] = report.stream !== null ? formatShardStatus(report.stream, report.shards) : [];
  lines.push("tables");
  for (const t of report.tables) {
    if (t.state === "ok") {
      lines.push(`  ${t.name.padEnd(14)} version ${String(t.version).padStart(5)}  files ${String(t.files).padStart(5)}  rows ${String(t.rows).padStart(9)}  ${t.url}`);
    } else lines.push(`  ${t.name.padEnd(14)} ${t.state === "missing" ? "missing" : `error: ${t.error}`}  ${t.url}`);
  }
  return lines.join("\n");
}
