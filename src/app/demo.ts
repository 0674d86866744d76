import { systemClock } from "../ports/clock.ts";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { CreateStreamCommand, DescribeStreamSummaryCommand } from "@aws-sdk/client-kinesis";
import { KinesisSource } from "../adapters/kinesis/kinesis_source.ts";
import { startLocalKinesis } from "../adapters/kinesis/local_kinesis.ts";
import { openStore } from "../adapters/open_store.ts";
import { kinesisConfig, s3Config } from "../adapters/aws_clients.ts";
import { ConfigError, type Settings, tableLocations } from "../config/settings.ts";
import { DeltaTable } from "../core/delta/table.ts";
import { logger, say } from "../telemetry/logging.ts";
import { Metrics } from "../telemetry/metrics.ts";
import { committedSoFar } from "../telemetry/run_telemetry.ts";
import { chooseDomain } from "./domains.ts";
import { claimDemoFolder } from "./demo_folder.ts";
import { initPackages, produce, putEntries } from "./commands.ts";
import { prepareRun } from "./run.ts";
import { brokenClickstream, generateClickstream } from "../produce/clickstream_generator.ts";
import { generatePackages } from "../produce/order_generator.ts";

/** The demo's examples: the order job, and a clickstream into tables a tables file declares. */
export const DEMO_EXAMPLES = ["orders", "clickstream"] as const;
export type DemoExample = (typeof DEMO_EXAMPLES)[number];

export interface DemoOptions {
  /** Which example to run. @default "orders" */
  example: DemoExample;
  /** Orders to produce (the orders example). */
  orders: number;
  /** Events to produce (the clickstream example). */
  events: number;
  shards: number;
}

/**
 * Where `deploy/examples/clickstream.toml` is: inside the binary (set by `src/bin.ts`), or
 * in the source tree.
 */
export function clickstreamExampleFile(): string {
  const embedded = (globalThis as { __DS_EMBEDDED?: { clickstreamToml?: string } }).__DS_EMBEDDED?.clickstreamToml;
  return embedded ?? fileURLToPath(new URL("../../deploy/examples/clickstream.toml", import.meta.url));
}

/**
 * `demo`: everything on this machine, no AWS account. Starts the embedded Kinesis, creates
 * a stream, produces synthetic records (and a few broken ones), runs the subscriber until
 * it has caught up, prints what the tables hold, and stops all it started. The tables stay
 * under the tables root (./data by default).
 *
 * - `orders`: a package_table with stock, order events, the five tables of the order job;
 * - `clickstream`: page-view events into the tables of `deploy/examples/clickstream.toml`
 *   (or of `--tables`, a file declaring tables for the same events).
 *
 * @throws {ConfigError} when the tables root is not a local folder, holds files the demo
 *   did not make or files written since the demo made it (`claimDemoFolder`), or `--tables`
 *   is given without `--example clickstream`.
 */
export async function runDemo(base: Settings, opts: DemoOptions): Promise<number> {
  const log = logger("demo");
  if (/^[a-z0-9]+:\/\//i.test(base.tablesRoot) && !base.tablesRoot.startsWith("file://")) {
    throw new ConfigError(`Cannot run the demo: it writes to a local folder, and 'tables-root' is '${base.tablesRoot}'`);
  }
  if (opts.example === "orders" && base.tablesFile) {
    throw new ConfigError(
      `Cannot run the demo with --tables alone: it makes synthetic records for its examples only. ` +
        `Add --example clickstream for events that fit deploy/examples/clickstream.toml, or run 'data-subscriber run --tables ${base.tablesFile}' on your stream`,
    );
  }
  const clickstream = opts.example === "clickstream";
  const tablesFile = clickstream ? base.tablesFile ?? clickstreamExampleFile() : undefined;
  const root = path.resolve(base.tablesRoot.replace(/^file:\/\//, ""));
  // Check the tables file before touching anything.
  if (tablesFile) await chooseDomain({ ...base, tablesRoot: root, tablesFile });
  // Empties the folder only when it is the demo's and nothing else wrote there (see demo_folder.ts).
  await claimDemoFolder(root);
  say(`Starting the embedded Kinesis (kinesis-local)…`);
  const kinesis = await startLocalKinesis();
  try {
    const settings: Settings = {
      ...base,
      tablesRoot: root,
      ...(tablesFile ? { tablesFile } : {}),
      checkpointsRoot: tablesFile ? path.join(root, "_checkpoints") : path.join(root, base.ordersFolder, "delta", base.checkpointsFolder),
      stream: base.stream ?? (clickstream ? "demo-clickstream" : "demo-orders"),
      region: base.region ?? "us-east-1",
      kinesisEndpointUrl: kinesis.endpoint,
      maxBatchAge: Math.min(base.maxBatchAge, 2_000),
      // Small batches, so that the stock of the first ones suffices and later ones run out.
      maxBatchRecords: Math.min(base.maxBatchRecords, 250),
      leaseDuration: Math.min(base.leaseDuration, 3_000),
    };
    // The local Kinesis takes any credentials; the demo needs no AWS account.
    process.env.AWS_ACCESS_KEY_ID ??= "demo";
    process.env.AWS_SECRET_ACCESS_KEY ??= "demo";
    const client = KinesisSource.client(kinesisConfig(settings));
    await client.send(new CreateStreamCommand({ StreamName: settings.stream, ShardCount: opts.shards }));
    for (let i = 0; ; i++) {
      const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: settings.stream }));
      if (s.StreamDescriptionSummary?.StreamStatus === "ACTIVE") break;
      if (i > 300) throw new Error(`The demo stream did not become ACTIVE`);
      await systemClock.sleep(100);
    }
    client.destroy();
    say(`Stream '${settings.stream}' with ${opts.shards} shards at ${kinesis.endpoint}.`);
    if (clickstream) return await clickstreamDemo(settings, opts.events);

    const packages = generatePackages((i) => 40 + ((i * 37) % 260));
    await initPackages(settings, packages, true);
    const stockBefore = packages.reduce((n, p) => n + (p.stock_quantity as number), 0);
    say(`Created package_table: ${packages.length} package groups, ${stockBefore} units in stock.`);

    const put = await produce(settings, { count: opts.orders, rate: 0, bad: Math.max(1, Math.round(opts.orders / 300)), seed: 7 }, log);
    say(`Put ${put} records (${opts.orders} orders and ${put - opts.orders} broken ones) on the stream.\n`);

    await catchUp(settings);
    await printSummary(settings, stockBefore);
  } finally {
    await kinesis.stop();
  }
  return 0;
}

/** Runs the subscriber once to the tip of the demo stream, with progress lines. */
async function catchUp(settings: Settings): Promise<Awaited<ReturnType<typeof prepareRun>>> {
  const metrics = new Metrics();
  const prepared = await prepareRun(settings, { metrics });
  const started = systemClock.monoMs();
  const progress = setInterval(() => say(`  … ${committedSoFar(metrics, []).records} records committed`), 2000);
  try {
    await prepared.supervisor.run(new AbortController().signal, { once: true });
  } finally {
    clearInterval(progress);
  }
  const secs = (systemClock.monoMs() - started) / 1000;
  const done = committedSoFar(metrics, []);
  say(`Subscriber caught up: ${done.records} records in ${done.batches} batches, ${secs.toFixed(1)} s.\n`);
  return prepared;
}

async function printSummary(settings: Settings, stockBefore: number): Promise<void> {
  const s3 = s3Config(settings);
  for (const [name, url] of Object.entries(tableLocations(settings))) {
    const table = await DeltaTable.open(openStore(url, s3));
    const rows = await table.readRows();
    say(`${name}: ${rows.length} rows, version ${table.version} (${url})`);
    for (const r of rows.slice(0, 3)) say(`  ${JSON.stringify(r, (_, v) => (typeof v === "bigint" ? Number(v) : v instanceof Date ? v.toISOString() : v)).slice(0, 220)}`);
    if (name === "package_table") {
      const after = rows.reduce((n, r) => n + Number(r.stock_quantity), 0);
      say(`  stock: ${stockBefore} units before, ${after} after (${stockBefore - after} reserved by the orders)`);
    }
    if (name === "orders") {
      const processing = rows.filter((r) => r.status === "PROCESSING").length;
      say(`  ${processing} orders PROCESSING (all their stock reserved), ${rows.length - processing} kept their status`);
    }
  }
  say(`\nThe tables are Delta tables under ${settings.tablesRoot}: read them with Spark, DuckDB or delta-rs.`);
}

/** The clickstream example: events and a few broken records on the stream, the subscriber, a summary. */
async function clickstreamDemo(settings: Settings, count: number): Promise<number> {
  const enc = new TextEncoder();
  const embedded = settings.tablesFile === clickstreamExampleFile();
  say(`Tables declared in ${embedded ? "deploy/examples/clickstream.toml (the copy built in)" : settings.tablesFile}.`);
  // From 23:30 on 2025-03-01: a run of more than 1,800 events crosses midnight, making two view_date partitions.
  const events = generateClickstream(count, 7);
  const entries = events.map((e) => ({ data: enc.encode(JSON.stringify(e)), partitionKey: String((e.session as { id: string }).id) }));
  const broken = brokenClickstream();
  broken.forEach((b, i) => entries.splice(Math.floor(((i + 1) * entries.length) / (broken.length + 1)), 0, { data: enc.encode(b), partitionKey: `broken-${i}` }));
  const put = await putEntries(settings, entries);
  const checkouts = events.filter((e) => e.cart !== undefined).length;
  say(`Put ${put} records (${count} page views, ${checkouts} of them checkouts with a cart, and ${broken.length} broken ones) on the stream.\n`);

  const { sink } = await catchUp(settings);
  const { locations } = await chooseDomain(settings);
  for (const name of sink.tableNames) {
    const table = await DeltaTable.open(openStore(locations[name]!, s3Config(settings)));
    const rows = await table.readRows();
    const parts = table.snapshot.partitionColumns;
    const folders = parts.length > 0 ? `, ${new Set([...table.snapshot.files.values()].map((f) => JSON.stringify(f.partitionValues))).size} partition(s) by ${parts.join(", ")}` : "";
    say(`${name}: ${rows.length} rows, version ${table.version}${folders} (${locations[name]})`);
    if (name === "quarantine") {
      for (const r of rows) say(`  ${String(r.reason).slice(0, 200)}`);
    } else {
      for (const r of rows.slice(0, 2)) say(`  ${show(r)}`);
    }
  }
  say(`\nThe tables are Delta tables under ${settings.tablesRoot}: read them with Spark, DuckDB or delta-rs.`);
  return 0;
}

function show(row: Record<string, unknown>): string {
  return JSON.stringify(row, (_, v) => (typeof v === "bigint" ? Number(v) : v instanceof Map ? Object.fromEntries(v) : v)).slice(0, 300);
}
