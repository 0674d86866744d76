/**
 * Logs and metrics as an operator meets them, through the binary (DS_BIN) or src/main.ts:
 * app.log holds the console's lines on every way out (run --once, a failed start,
 * SIGTERM); --log-format json prints nothing but JSON objects, each fatal error once,
 * with DEBUG lines that say what happened; /metrics is valid Prometheus text, read by
 * prometheus_client's parser, with every family there from the start.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, signal, spawnCli } from "../helpers/cli.ts";
import { tableCount } from "../helpers/e2e_checks.ts";
import { cliEnv, enc, makeOrders, putAll, richAndPoorPackages, startWorld, type World } from "../helpers/e2e_env.ts";
import { type MetricFamily, parsePrometheus } from "../helpers/prometheus.ts";
import { freePort, waitFor } from "../helpers/servers.ts";

/** Non-empty lines, sorted: stdout and stderr interleave in no fixed order. */
const linesOf = (text: string) => text.split("\n").filter((l) => l.trim() !== "").sort();

interface JsonLine {
  "@timestamp": string;
  level: string;
  message: string;
  logger: string;
  properties?: Record<string, unknown>;
}

/** Every non-empty line of `text` as a JSON object; fails naming the first line that is not one. */
function jsonLines(text: string): JsonLine[] {
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => {
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch {
      assert.fail(`not a JSON line: ${l}`);
    }
    assert.ok(v && typeof v === "object" && typeof (v as JsonLine).message === "string" && typeof (v as JsonLine).level === "string", `not a log object: ${l}`);
    return v as JsonLine;
  });
}

describe("logs and metrics through the binary, against kinesis-local and moto", () => {
  let w: World;
  before(async () => (w = await startWorld()));
  after(() => w?.stop());

  /** A stream of `shards` shards with `orders` orders on it, a bucket with package_table loaded; the environment to run on it. */
  async function stream(name: string, orders: number, shards = 2) {
    await w.kinesis.createStream(name, shards);
    const bucket = await w.moto.bucket(name);
    const pkgFile = path.join(w.tmp, `${name}.json`);
    await fs.writeFile(pkgFile, JSON.stringify(richAndPoorPackages().rows));
    const env = cliEnv(w, { STREAM_NAME: name, TABLES_ROOT: `s3://${bucket}` });
    const init = await runCli(["tables", "init-packages", "--from", pkgFile], env);
    assert.equal(init.code, 0, init.stderr);
    const list = makeOrders(orders, 11);
    if (orders > 0) await putAll(w, name, list.map((o) => ({ data: enc.encode(JSON.stringify(o)), key: String(o.order_id) })));
    return { bucket, env, orders: list };
  }

  async function logFile(name: string): Promise<string> {
    const dir = path.join(w.tmp, `logs-${name}`);
    await fs.mkdir(dir, { recursive: true });
    return path.join(dir, "app.log");
  }

  test("app.log holds the same lines as the console after run --once, after failed starts and after SIGTERM", async () => {
    const { bucket, env, orders } = await stream("log-file", 120);
    const info = { ...env, LOG_LEVEL: "info" };

    const onceLog = await logFile("once");
    const once = await runCli(["run", "--once", "--max-batch-records", "50"], { ...info, LOG_FILE: onceLog });
    assert.equal(once.code, 0, once.stderr);
    const onceConsole = linesOf(once.stdout + once.stderr);
    assert.ok(onceConsole.some((l) => /Done in [\d.]+ s: 120 records committed in \d+ batches; rows .*orders=120/.test(l)), onceConsole.join("\n"));
    assert.deepEqual(linesOf(await fs.readFile(onceLog, "utf8")), onceConsole, "run --once: app.log = console");

    // A stream that does not exist: the first lease round ends the run.
    const noStreamLog = await logFile("no-stream");
    const noStream = await runCli(["run", "--once"], { ...info, STREAM_NAME: "no-such-stream", LOG_FILE: noStreamLog });
    assert.notEqual(noStream.code, 0);
    const noStreamConsole = linesOf(noStream.stdout + noStream.stderr);
    assert.ok(noStreamConsole.some((l) => /\[ERR\].*no-such-stream/.test(l)), noStreamConsole.join("\n"));
    assert.deepEqual(linesOf(await fs.readFile(noStreamLog, "utf8")), noStreamConsole, "failed start (no stream): app.log = console");

    // A bucket that does not exist: opening the tables ends the run.
    const noBucketLog = await logFile("no-bucket");
    const noBucket = await runCli(["run", "--once"], { ...info, TABLES_ROOT: "s3://no-such-bucket-here", LOG_FILE: noBucketLog });
    assert.notEqual(noBucket.code, 0);
    const noBucketConsole = linesOf(noBucket.stdout + noBucket.stderr);
    assert.ok(noBucketConsole.some((l) => /\[ERR\].*no-such-bucket-here/.test(l)), noBucketConsole.join("\n"));
    assert.deepEqual(linesOf(await fs.readFile(noBucketLog, "utf8")), noBucketConsole, "failed start (no bucket): app.log = console");

    // A continuous run, stopped by SIGTERM after it committed what was there.
    await putAll(w, "log-file", makeOrders(30, 12).map((o) => ({ data: enc.encode(JSON.stringify(o)), key: String(o.order_id) })));
    const termLog = await logFile("sigterm");
    const run = spawnCli(["run", "--max-batch-age", "1s"], { ...info, LOG_FILE: termLog, SHUTDOWN_TIMEOUT: "20s" });
    await waitFor("the new orders committed", async () => (await tableCount(w, bucket, "delta/bronze/orders")) === orders.length + 30, 60_000);
    await waitFor("a commit logged", () => /Committed a batch/.test(run.output()), 20_000);
    signal(run.child);
    const term = await run.done;
    assert.equal(term.code, 0, term.stderr);
    const termConsole = linesOf(term.stdout + term.stderr);
    assert.ok(termConsole.some((l) => /Received SIGTERM/.test(l)), termConsole.join("\n"));
    assert.ok(termConsole.some((l) => /Done in [\d.]+ s: 30 records committed/.test(l)), termConsole.join("\n"));
    assert.deepEqual(linesOf(await fs.readFile(termLog, "utf8")), termConsole, "SIGTERM: app.log = console, to the last line");
  });

  test("--log-format json: only JSON objects on stdout and stderr, sentences without artefacts, DEBUG lines per GetRecords, commit and lease change", async () => {
    const { env } = await stream("log-json", 80);
    const res = await runCli(["run", "--once", "--log-format", "json", "--log-level", "debug", "--max-batch-records", "50"], env);
    assert.equal(res.code, 0, res.stderr);
    const lines = jsonLines(res.stdout + res.stderr);
    for (const l of lines) assert.doesNotMatch(l.message, /"|\{\w+\}|undefined|\[object /, `a sentence without artefacts: ${l.message}`);
    const debug = lines.filter((l) => l.level === "DEBUG");
    const reads = debug.filter((l) => /^GetRecords on shard shardId-\d+: \d+ records, \d+ bytes, \d+ ms behind the tip\.$/.test(l.message));
    assert.ok(reads.length >= 2, "a line per GetRecords");
    assert.deepEqual(Object.keys(reads[0]!.properties!).sort(), ["bytes", "millisBehindLatest", "records", "shardId"]);
    assert.equal(reads.reduce((n, l) => n + (l.properties!.records as number), 0), 80, "the reads' records add up to what was put");
    const commits = debug.filter((l) => /^Committed \d+ rows to orders as version \d+ in \d+ ms\.$/.test(l.message));
    assert.ok(commits.length >= 1, "a line per table commit");
    assert.equal(commits.reduce((n, l) => n + (l.properties!.rows as number), 0), 80);
    assert.equal(typeof commits[0]!.properties!.version, "number");
    assert.ok(debug.some((l) => /^This worker now holds 2 shard lease\(s\): shardId-000000000000, shardId-000000000001\.$/.test(l.message)), "a line per lease change");
    assert.ok(lines.some((l) => l.level === "INFO" && /^Done in [\d.]+ s: 80 records committed in \d+ batches; rows .*orders=80/.test(l.message)), "the progress line is JSON too");

    // A failed start: the error once, as JSON.
    const failed = await runCli(["run", "--once", "--log-format", "json"], { ...env, STREAM_NAME: "no-such-json-stream" });
    assert.notEqual(failed.code, 0);
    const failedLines = jsonLines(failed.stdout + failed.stderr);
    const errors = failedLines.filter((l) => l.level === "ERROR");
    assert.equal(errors.length, 1, `the fatal error once: ${JSON.stringify(errors)}`);
    assert.match(errors[0]!.message, /no-such-json-stream/);
  });

  test("a fatal error is printed once in text mode too", async () => {
    const { env } = await stream("log-once-error", 0, 1);
    const res = await runCli(["run", "--once"], { ...env, STREAM_NAME: "no-such-text-stream" });
    assert.notEqual(res.code, 0);
    const mentions = linesOf(res.stdout + res.stderr).filter((l) => l.includes("no-such-text-stream"));
    assert.equal(mentions.length, 1, mentions.join("\n"));
  });

  test("demo --log-format json prints only JSON objects", async () => {
    const root = path.join(w.tmp, "demo-json");
    const res = await runCli(["demo", "--orders", "40", "--shards", "1", "--tables-root", root, "--log-format", "json", "--log-file="], {});
    assert.equal(res.code, 0, res.stderr);
    const lines = jsonLines(res.stdout + res.stderr);
    assert.ok(lines.some((l) => /^Subscriber caught up: \d+ records in \d+ batches/.test(l.message)), "the demo's story, as JSON");
    assert.ok(lines.some((l) => /^orders: \d+ rows, version \d+/.test(l.message)), "its summary, as JSON");
  });

  test("/metrics is Prometheus text: HELP and TYPE for every family, counters in _total, every family there at 0 before the first batch", async () => {
    const { bucket, env } = await stream("metrics-conventions", 0);
    const port = await freePort();
    const run = spawnCli(["run", "--metrics-port", String(port), "--max-batch-age", "1s"], { ...env, SHUTDOWN_TIMEOUT: "20s" });
    try {
      const scrape = async () => parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      const sample = (fams: MetricFamily[], name: string, labels: Record<string, string> = {}) =>
        fams.flatMap((f) => f.samples).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
      let fams: MetricFamily[] = [];
      await waitFor("both leases taken", async () => sample((fams = await scrape()), "data_subscriber_shards_held") === 2, 30_000);

      for (const f of fams) {
        assert.notEqual(f.help, "", `${f.name} has HELP`);
        assert.notEqual(f.type, "unknown", `${f.name} has TYPE`);
        if (f.type === "counter") for (const s of f.samples) assert.match(s.name, /_total$|_created$/, `counter sample ${s.name}`);
        for (const s of f.samples) for (const l of Object.keys(s.labels)) assert.match(l, /^[a-z_]+$/, `${s.name}: label ${l}`);
      }
      const names = new Set(fams.map((f) => f.type === "counter" ? `${f.name}_total` : f.name));
      const expected = [
        "data_subscriber_build_info", "data_subscriber_records_committed_total", "data_subscriber_bytes_committed_total", "data_subscriber_batches_committed_total",
        "data_subscriber_batch_commit_duration_seconds", "data_subscriber_commit_retries_total", "data_subscriber_unavailable_retries_total",
        "data_subscriber_read_retries_total", "data_subscriber_lease_round_failures_total", "data_subscriber_leases_acquired_total", "data_subscriber_leases_lost_total",
        "data_subscriber_shards_held", "data_subscriber_shard_lag_seconds", "data_subscriber_shards_finished_total", "data_subscriber_shard_stops_total",
        "data_subscriber_shards_stopped", "data_subscriber_rows_written_total", "data_subscriber_table_commit_duration_seconds",
        "data_subscriber_last_commit_timestamp_seconds", "data_subscriber_table_shards_skipped_total", "data_subscriber_commit_conflicts_total",
        "data_subscriber_commit_races_lost_total", "data_subscriber_delta_checkpoint_failures_total",
        "process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds", "process_max_fds",
      ];
      for (const n of expected) assert.ok(names.has(n), `${n} is exposed`);
      for (const n of names) assert.match(n, /^(data_subscriber|process)_/, `one prefix: ${n}`);
      // Before the first batch: every data_subscriber counter at 0, over its known label sets.
      for (const f of fams.filter((f) => f.type === "counter" && f.name.startsWith("data_subscriber_") && f.name !== "data_subscriber_leases_acquired")) {
        for (const s of f.samples.filter((s) => s.name.endsWith("_total"))) assert.equal(s.value, 0, `${s.name}${JSON.stringify(s.labels)} starts at 0`);
      }
      for (const table of ["orders", "events", "orders_items", "package_table", "quarantine"]) {
        assert.equal(sample(fams, "data_subscriber_rows_written_total", { table }), 0, `rows of ${table} at 0`);
        assert.equal(sample(fams, "data_subscriber_last_commit_timestamp_seconds", { table }), 0);
      }
      for (const reason of ["throttled", "timeout", "server_error", "connection", "other"]) assert.equal(sample(fams, "data_subscriber_read_retries_total", { reason }), 0);
      const build = fams.find((f) => f.name === "data_subscriber_build_info")!.samples[0]!;
      assert.match(build.labels.version!, /^\d+\.\d+\.\d+/);
      assert.ok(build.labels.commit, "the commit");
      assert.ok((sample(fams, "process_resident_memory_bytes") as number) > 1e6);
      assert.ok((sample(fams, "process_open_fds") as number) > 3);
      assert.ok(Math.abs((sample(fams, "process_start_time_seconds") as number) - Date.now() / 1000) < 600);

      // Then it counts: records, rows per table, the last commit's time, lag in seconds.
      const startedAt = Date.now() / 1000;
      const orders = makeOrders(60, 13);
      await putAll(w, "metrics-conventions", orders.map((o) => ({ data: enc.encode(JSON.stringify(o)), key: String(o.order_id) })));
      await waitFor("every record counted", async () => sample((fams = await scrape()), "data_subscriber_records_committed_total") === 60, 60_000);
      assert.equal(sample(fams, "data_subscriber_rows_written_total", { table: "orders" }), await tableCount(w, bucket, "delta/bronze/orders"));
      assert.ok((sample(fams, "data_subscriber_last_commit_timestamp_seconds", { table: "orders" }) as number) >= Math.floor(startedAt));
      const lag = fams.find((f) => f.name === "data_subscriber_shard_lag_seconds")!.samples;
      assert.deepEqual(lag.map((s) => s.labels.shard).sort(), ["shardId-000000000000", "shardId-000000000001"]);
      assert.ok(lag.every((s) => typeof s.value === "number" && s.value >= 0 && s.value < 3600), "lag in seconds");
    } finally {
      signal(run.child);
      const res = await run.done;
      assert.equal(res.code, 0, res.stderr);
    }
  });
});
