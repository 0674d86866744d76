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

/** Reads `--from` for init-packages, or makes the demo catalog. */
export async function packageRows(from: string | undefined, stock: number): Promise<Record<string, unknown>[]> {
  if (!from) return generatePackages(stock);
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

/**
 * The shard part of `status`: per shard its owner, batch, checkpoint and lag; a stopped
 * shard's reason, the range that may be lost and the command that resumes it.
 */
export async function shardStatusLines(source: RecordSource, states: ShardStateStore, initial: IteratorPosition, appName: string): Promise<string[]> {
  const lines = [`stream ${source.streamName}`, `  ${"shard".padEnd(22)} ${"owner".padEnd(36)} ${"batch".padStart(6)} ${"checkpoint".padEnd(28)} lag`];
  for (const shard of await source.listShards()) {
    const st = (await states.read(shard.shardId))?.state;
    let lag = "-";
    if (st && !st.finished && !st.stopped) {
      try {
        const it = await source.getIterator(shard.shardId, st.position ? { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: st.position.sequenceNumber } : initial);
        lag = `${(await source.getRecords(it, 1)).millisBehindLatest} ms`;
      } catch (err) {
        lag = `? (${(err as Error).name})`;
      }
    }
    const cp = !st ? "not started" : st.stopped ? "STOPPED" : st.finished ? "finished" : st.position ? `${st.position.sequenceNumber.slice(-12)}/${st.position.subSequenceNumber}` : "none yet";
    const notes = [st?.intent ? " (intent)" : "", st?.restartAt ? ` (restarts at ${describeRestart(st.restartAt)})` : ""].join("");
    lines.push(`  ${shard.shardId.padEnd(22)} ${(st?.lease.owner ?? "-").padEnd(36)} ${String(st?.batch ?? 0).padStart(6)} ${(cp + notes).padEnd(28)} ${lag}`);
    if (st?.stopped) {
      lines.push(`      stopped ${st.stopped.at} by ${st.stopped.by}: ${st.stopped.reason}`);
      lines.push(`      may be lost: ${lostRange({ stopped: st.stopped, intent: st.stopped.intentBatch !== undefined ? st.intent : null })}`);
      lines.push(`      its children wait for it; to resume it: ${resetCommand(source.streamName, shard.shardId, appName)}`);
    }
  }
  return lines;
}

/** `status`: per shard owner, checkpoint and lag; per table version, files and rows. */
export async function status(settings: Settings): Promise<string> {
  const lines: string[] = [];
  const s3 = s3Config(settings);
  if (settings.stream) {
    const client = KinesisSource.client(kinesisConfig(settings));
    const source = new KinesisSource(settings.stream, client, settings.region ?? "");
    const states = new ShardStateStore(openStore(settings.checkpointsRoot, s3), joinUri(settings.appName, settings.stream, "shards") + "/");
    try {
      lines.push(...await shardStatusLines(source, states, settings.initialPosition, settings.appName));
    } finally {
      client.destroy();
    }
  }
  lines.push("tables");
  for (const [name, url] of Object.entries((await chooseDomain(settings)).locations)) {
    try {
      const t = await DeltaTable.open(openStore(url, s3));
      let rows = 0;
      for (const f of t.snapshot.files.values()) rows += f.stats ? (JSON.parse(f.stats) as { numRecords: number }).numRecords : 0;
      lines.push(`  ${name.padEnd(14)} version ${String(t.version).padStart(5)}  files ${String(t.snapshot.files.size).padStart(5)}  rows ${String(rows).padStart(9)}  ${url}`);
    } catch (err) {
      lines.push(`  ${name.padEnd(14)} ${err instanceof TableError ? "missing" : `error: ${(err as Error).message}`}  ${url}`);
    }
  }
  return lines.join("\n");
}
