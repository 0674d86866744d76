import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../adapters/memory/fake_clock.ts";
import { StoreUnavailableError } from "../ports/object_store.ts";
import { ThrottledError, TransientSourceError } from "../ports/record_source.ts";
import type { Logger } from "@logtape/logtape";
import { outageLog, RunHealth } from "./run_health.ts";

const MIN = 60_000;

function model() {
  const clock = new FakeClock();
  const health = new RunHealth({ clock, readyMaxLagMs: 5 * MIN, names: { store: "S3 (s3://bucket)", source: "Kinesis (stream 'orders')" } });
  return { clock, health, ev: health.events() };
}

test("readiness: starting until a lease round succeeds, then ready", () => {
  const { health, ev } = model();
  assert.equal(health.readiness().ok, false);
  assert.equal(health.readiness().body.status, "starting");
  ev.leaseRound!(false);
  assert.equal(health.readiness().body.status, "starting");
  ev.leaseRound!(true);
  assert.deepEqual(health.readiness(), { ok: true, body: { status: "ready", shards: 0, maxLagSeconds: 0 } });
});

test("readiness: degraded while a part meets an outage, naming the dependency, the site and the error; ready once it recovers", () => {
  const { clock, health, ev } = model();
  ev.leaseRound!(true);
  ev.unavailable!({ site: "commit", dependency: "store", error: new StoreUnavailableError("S3 PutObject of s3://bucket/t/_delta_log/x failed (ECONNREFUSED)"), attempt: 1, failingForMs: 0, delayMs: 1000 });
  clock.tick(90_000);
  const r = health.readiness();
  assert.equal(r.ok, false);
  assert.equal(r.body.status, "degraded");
  assert.deepEqual(r.body.reasons, ["S3 (s3://bucket) failing for 90 s (committing a batch): S3 PutObject of s3://bucket/t/_delta_log/x failed (ECONNREFUSED)"]);
  ev.recovered!("commit", 90_000);
  assert.equal(health.readiness().body.status, "ready");
});

test("readiness: failing reads degrade it until a read of that shard succeeds; throttles do not", () => {
  const { clock, health, ev } = model();
  ev.leaseRound!(true);
  ev.readRetry!("shardId-1", new ThrottledError("Rate exceeded"));
  assert.equal(health.readiness().body.status, "ready");
  ev.readRetry!("shardId-1", new TransientSourceError("Reading stream 'orders', shard shardId-1 failed (ECONNRESET)"));
  assert.match((health.readiness().body.reasons as string[])[0]!, /^Kinesis \(stream 'orders'\) failing \(reading shard shardId-1\): .*ECONNRESET/);
  ev.lag!("shardId-1", 0);
  assert.equal(health.readiness().body.status, "ready");
  // A failure that was not followed by a success fades after 30 s (the shard may have moved on).
  ev.readRetry!("shardId-2", new TransientSourceError("x"));
  clock.tick(31_000);
  assert.equal(health.readiness().body.status, "ready");
});

test("readiness: a shard further behind than READY_MAX_LAG degrades it", () => {
  const { health, ev } = model();
  ev.leaseRound!(true);
  ev.lag!("shardId-1", 4 * MIN);
  assert.equal(health.readiness().ok, true);
  ev.lag!("shardId-2", 6 * MIN);
  const r = health.readiness();
  assert.equal(r.ok, false);
  assert.deepEqual(r.body.reasons, ["shard shardId-2 is 360 s behind the tip of the stream (READY_MAX_LAG 300 s)"]);
  assert.equal(r.body.maxLagSeconds, 360);
  ev.leaseLost!("shardId-2");
  assert.equal(health.readiness().ok, true);
});

test("liveness: a quiet stream is alive; no lease round for 5 minutes is stuck", () => {
  const { clock, health, ev } = model();
  ev.leaseRound!(true);
  clock.tick(4 * MIN);
  assert.equal(health.liveness().ok, true);
  ev.leaseRound!(false); // a failed round is still a round: the loop is alive
  clock.tick(4 * MIN);
  assert.equal(health.liveness().ok, true);
  clock.tick(2 * MIN);
  const l = health.liveness();
  assert.equal(l.ok, false);
  assert.deepEqual(l.body.reasons, ["the run loop has not finished a lease round for 360 s"]);
});

test("liveness: a commit waiting an outage out is alive; one with no sign of life for 5 minutes is stuck", () => {
  const { clock, health, ev } = model();
  const round = () => ev.leaseRound!(true);
  round();
  ev.commitStarted!();
  for (let i = 0; i < 20; i++) {
    clock.tick(30_000);
    round();
    ev.unavailable!({ site: "commit", dependency: "store", error: new StoreUnavailableError("down"), attempt: i + 1, failingForMs: i * 30_000, delayMs: 30_000 });
  }
  assert.equal(health.liveness().ok, true, "retrying every 30 s for 10 minutes");
  for (let i = 0; i < 11; i++) {
    clock.tick(30_000);
    round();
  }
  const l = health.liveness();
  assert.equal(l.ok, false);
  assert.match((l.body.reasons as string[])[0]!, /^a batch commit has shown no progress for 330 s$/);
  ev.batchCommitted!({ records: 1, bytes: 1, shards: 1, ms: 1, trigger: "age" });
  assert.equal(health.liveness().ok, true);
});

test("outage log: a WARN when reads first fail, one a minute while they do, an INFO when a read succeeds (hooks called on their own)", () => {
  const clock = new FakeClock();
  const lines: string[] = [];
  const log = {
    warn: (m: string, p: Record<string, unknown>) => lines.push(`WARN ${m.replace(/\{(\w+)\}/g, (_, k) => String(p[k]))}`),
    info: (m: string, p: Record<string, unknown>) => lines.push(`INFO ${m.replace(/\{(\w+)\}/g, (_, k) => String(p[k]))}`),
  } as unknown as Logger;
  const { readRetry, lag } = outageLog(log, clock, 15 * MIN, { source: "Kinesis (stream 'orders')" });
  const err = new TransientSourceError("connect ECONNREFUSED");
  readRetry!("shardId-1", err);
  clock.tick(20_000);
  readRetry!("shardId-1", err);
  clock.tick(45_000);
  readRetry!("shardId-1", err);
  lag!("shardId-1", 0);
  assert.deepEqual(lines, [
    "WARN Kinesis (stream 'orders') is unavailable (reading records): connect ECONNREFUSED. Retrying with backoff; the process waits up to 900 s (OUTAGE_BUDGET) before it gives up.",
    "WARN Kinesis (stream 'orders') is still unavailable (reading records) after 65 s: connect ECONNREFUSED. Giving up after 900 s (OUTAGE_BUDGET).",
    "INFO Available again after 65 s (reading records); going on.",
  ]);
});
