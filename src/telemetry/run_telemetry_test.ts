import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import type { Logger } from "@logtape/logtape";
import { ConcurrentTransactionError } from "../core/delta/errors.ts";
import type { ShardState } from "../core/shard_state/shard_state.ts";
import { ThrottledError, TransientSourceError } from "../ports/record_source.ts";
import { COMMIT, VERSION } from "../version.ts";
import { ERROR_REASONS } from "./error_reason.ts";
import { renderMessage } from "./logging.ts";
import { compactionTelemetry, METRIC, runMetrics, sinkTelemetry, supervisorTelemetry } from "./run_telemetry.ts";

interface Line {
  level: string;
  message: string;
  properties: Record<string, unknown>;
}

/** A Logger that keeps each line, rendered as the formatters render it (values bare). */
function capture(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (template: string, properties: Record<string, unknown> = {}) => {
    const parts = template.split(/\{(\w+)\}/).map((p, i) => (i % 2 === 1 ? properties[p] : p));
    lines.push({ level, message: renderMessage(parts), properties });
  };
  const log = { debug: at("debug"), info: at("info"), warn: at("warning"), warning: at("warning"), error: at("error") } as unknown as Logger;
  return { log, lines };
}

const state = (shardId: string, intent: ShardState["intent"] = null) => ({ shardId, batch: 4, intent } as ShardState);

test("every run family is there before the first event: counters at 0 over their closed label sets, build info, process metrics", () => {
  const m = runMetrics();
  sinkTelemetry(m, capture().log, ["orders", "quarantine"]);
  compactionTelemetry(m, capture().log, ["orders", "quarantine"]);
  const text = m.render();
  for (const result of ["compacted", "skipped", "failed"]) assert.match(text, new RegExp(`^data_subscriber_compactions_total\\{table="quarantine",result="${result}"\\} 0$`, "m"));
  for (const name of Object.values(METRIC)) assert.match(text, new RegExp(`^# TYPE ${name} `, "m"), `${name} declared`);
  for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
    const [series, value] = line.split(" ");
    if (/^data_subscriber_.*_total/.test(series!)) assert.equal(value, "0", `${series} starts at 0`);
  }
  assert.match(text, /^data_subscriber_batches_committed_total\{trigger="age"\} 0$/m);
  for (const reason of ERROR_REASONS) assert.match(text, new RegExp(`^data_subscriber_read_retries_total\\{reason="${reason}"\\} 0$`, "m"));
  assert.match(text, /^data_subscriber_rows_written_total\{table="quarantine"\} 0$/m);
  assert.match(text, /^data_subscriber_last_commit_timestamp_seconds\{table="orders"\} 0$/m);
  assert.match(text, /^data_subscriber_commit_conflicts_total\{table="orders",kind="concurrent_transaction"\} 0$/m);
  assert.ok(text.includes(`data_subscriber_build_info{version="${VERSION}",commit="${COMMIT}"} 1`), "build info");
  assert.match(text, /^process_cpu_seconds_total \d/m);
  assert.match(text, /^process_resident_memory_bytes [1-9]\d*$/m);
  assert.match(text, /^process_start_time_seconds 1\d{9}$/m);
  if (process.platform === "linux") assert.match(text, /^process_open_fds [1-9]\d*$/m);
  for (const line of text.split("\n").filter((l) => l.startsWith("# TYPE") && l.endsWith(" counter"))) assert.match(line, /_total counter$/);
});

test("labels take values from the closed sets: an error's reason, never its class name", () => {
  const m = runMetrics();
  const ev = supervisorTelemetry(m, capture().log);
  ev.readRetry!("s-1", new ThrottledError("Throttled reading stream 's'"));
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:4567"), { code: "ECONNREFUSED" });
  ev.readRetry!("s-1", new TransientSourceError("Reading stream 's' failed and will be retried", { cause: refused }));
  ev.readRetry!("s-1", new TransientSourceError("A Kinesis call for stream 's' did not finish within 90 s"));
  ev.readRetry!("s-1", new TransientSourceError("Something odd"));
  ev.commitRetry!(Object.assign(new Error("We encountered an internal error"), { $metadata: { httpStatusCode: 500 } }), 1, 100);
  const text = m.render();
  assert.match(text, /^data_subscriber_read_retries_total\{reason="throttled"\} 1$/m);
  assert.match(text, /^data_subscriber_read_retries_total\{reason="connection"\} 1$/m);
  assert.match(text, /^data_subscriber_read_retries_total\{reason="timeout"\} 1$/m);
  assert.match(text, /^data_subscriber_read_retries_total\{reason="other"\} 1$/m);
  assert.match(text, /^data_subscriber_commit_retries_total\{reason="server_error"\} 1$/m);
  assert.doesNotMatch(text, /Error"/);
});

test("lag in seconds per held shard, shards held, and the last commit time per table", () => {
  const m = runMetrics();
  const ev = supervisorTelemetry(m, capture().log);
  const sink = sinkTelemetry(m, capture().log, ["orders"]);
  ev.leaseAcquired!("s-1", state("s-1"));
  ev.leaseAcquired!("s-2", state("s-2"));
  ev.lag!("s-1", 2500);
  ev.lag!("s-2", 0);
  assert.equal(m.get(METRIC.shardsHeld), 2);
  assert.equal(m.get(METRIC.shardLag, { shard: "s-1" }), 2.5);
  ev.leaseLost!("s-2");
  assert.equal(m.get(METRIC.shardsHeld), 1);
  assert.doesNotMatch(m.render(), /shard="s-2"/, "a lost shard's lag is no longer reported");
  const before = Date.now() / 1000;
  sink.tableCommitted!("orders", 10, 12, 7);
  assert.ok(m.get(METRIC.lastCommit, { table: "orders" }) >= before);
  sink.conflict!("orders", new ConcurrentTransactionError("x", 3, "app"), 1);
  assert.equal(m.get(METRIC.conflicts, { table: "orders", kind: "concurrent_transaction" }), 1);
});

test("log lines are sentences without artefacts, with DEBUG lines per GetRecords, per table commit and per lease change", () => {
  const { log, lines } = capture();
  const m = runMetrics();
  const ev = supervisorTelemetry(m, log);
  const sink = sinkTelemetry(m, log, ["orders"]);
  ev.leaseAcquired!("s-1", state("s-1"));
  ev.leaseAcquired!("s-2", state("s-2", { batch: 5 } as ShardState["intent"]));
  ev.recordsRead!("s-1", { records: 120, bytes: 40_000, millisBehindLatest: 3000 });
  sink.tableCommitted!("orders", 120, 35.4, 9);
  ev.batchCommitted!({ records: 120, bytes: 40_000, shards: 1, ms: 80.2, trigger: "age" });
  ev.leaseLost!("s-1");
  const messages = lines.map((l) => `${l.level} ${l.message}`);
  assert.deepEqual(messages, [
    "info Took the lease of shard s-1 at batch 4.",
    "debug This worker now holds 1 shard lease(s): s-1.",
    "info Took the lease of shard s-2 at batch 4; replaying its batch in flight (5) first.",
    "debug This worker now holds 2 shard lease(s): s-1, s-2.",
    "debug GetRecords on shard s-1: 120 records, 40000 bytes, 3000 ms behind the tip.",
    "debug Committed 120 rows to orders as version 9 in 35 ms.",
    "info Committed a batch of 120 records from 1 shard(s) in 80 ms, closed because its oldest record reached the age limit.",
    "warning Lost the lease of shard s-1 to another worker; stopped reading it.",
    "debug This worker now holds 1 shard lease(s): s-2.",
  ]);
  for (const l of lines) assert.doesNotMatch(l.message, /"|\(\)|undefined|\[object/, l.message);
});

test("README.md's metrics table lists exactly the families /metrics serves, with their types", () => {
  const m = runMetrics();
  sinkTelemetry(m, capture().log, ["orders"]);
  compactionTelemetry(m, capture().log, ["orders"]);
  const types = new Map([...m.render().matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => [x[1]!, x[2]!]));
  const readme = fs.readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const documented = new Map([...readme.matchAll(/^\| `((?:data_subscriber|process)_\w+)` \| (\w+) \|/gm)].map((x) => [x[1]!, x[2]!]));
  assert.deepEqual([...documented].sort(), [...types].sort());
});
