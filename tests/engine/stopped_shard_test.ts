/**
 * Gaps in the stream are an operator's decision: on the fake clock, with the in-memory
 * stream and store, a shard whose checkpoint (or intent) the retention trimmed is stopped,
 * named in an ERROR with the range that may be lost and the command that resumes it, left
 * alone by every worker while the others go on, and resumed by `checkpoints reset`, after
 * which everything lands once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Logger } from "@logtape/logtape";
import { FakeClock } from "../../src/adapters/memory/fake_clock.ts";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { ScriptedSource } from "../../src/adapters/memory/scripted_source.ts";
import { resetCheckpoints } from "../../src/app/checkpoints_reset.ts";
import { shardStatusLines } from "../../src/app/commands.ts";
import { POLICIES } from "../../src/core/retry/policies.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
import { type ShardStoppedEvent, Supervisor, type SupervisorEvents } from "../../src/engine/supervisor.ts";
import { Metrics } from "../../src/telemetry/metrics.ts";
import { supervisorTelemetry } from "../../src/telemetry/run_telemetry.ts";
import { checkExactlyOnce, CrashError, LogHandler, readLog } from "../helpers/log_handler.ts";

const enc = new TextEncoder();
const HOUR = 3_600_000;
const LEASE_MS = 6_000;
/** Explicit hash keys that put a record on the first or the second of two shards. */
const LOW = "1";
const HIGH = String(2n ** 127n + 1n);

function world() {
  const clock = new FakeClock({ wallMs: Date.UTC(2026, 0, 1), monoMs: 0 });
  const source = new ScriptedSource("orders", 2, clock);
  const [a, b] = source.openShards() as [string, string];
  const store = new MemoryStore("states", () => clock.wallMs());
  const states = new ShardStateStore(store, "checkpoints/");
  /** Puts records `key-<shard>-<i % 5>:<i>` for i in [from, to) on one shard; @returns their data and sequence numbers. */
  const put = (shard: "a" | "b", from: number, to: number) => {
    const data: string[] = [];
    const seqs: string[] = [];
    for (let i = from; i < to; i++) {
      const d = `key-${shard}-${i % 5}:${i}`;
      seqs.push(source.put(`key-${shard}-${i % 5}`, enc.encode(d), shard === "a" ? LOW : HIGH).sequenceNumber);
      data.push(d);
    }
    return { data, seqs };
  };
  return { clock, source, a, b, store, states, put };
}

function subscriber(w: ReturnType<typeof world>, worker: string, events: SupervisorEvents = {}) {
  const handler = new LogHandler(w.store, worker);
  const sub = new Supervisor(w.source, w.states, w.clock, handler, {
    appName: "test",
    batch: { maxRecords: 200, maxAgeMs: 1_000 },
    reader: { idleDelayMs: 200 },
    lease: { workerId: worker, leaseDurationMs: LEASE_MS },
    commitPolicy: { ...POLICIES.batchCommit, attempts: 1 },
  }, events);
  return { sub, handler };
}

/** `run --once` on the fake clock: to the tip of every shard it may read, then return. */
function runOnce(w: ReturnType<typeof world>, sub: Supervisor): Promise<void> {
  return w.clock.settle(sub.run(new AbortController().signal, { once: true }), { maxTimers: 1_000_000 });
}

/** A LogTape logger that keeps its lines, with the properties filled in. */
function captureLog() {
  const lines: { level: string; text: string }[] = [];
  const at = (level: string) => (message: string, props: Record<string, unknown> = {}) => {
    lines.push({ level, text: message.replace(/\{(\w+)\}/g, (_, k: string) => String(props[k])) });
  };
  const log = { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") } as unknown as Logger;
  return { lines, log };
}

function both(...events: SupervisorEvents[]): SupervisorEvents {
  const out: Record<string, (...args: unknown[]) => void> = {};
  for (const k of new Set(events.flatMap((e) => Object.keys(e)))) {
    out[k] = (...args) => {
      for (const e of events) (e as Record<string, ((...a: unknown[]) => void) | undefined>)[k]?.(...args);
    };
  }
  return out as SupervisorEvents;
}

test("a checkpoint the retention trimmed stops its shard with an ERROR naming the range; the other shard goes on; a restart does not read past it; a reset to trim-horizon resumes it and everything after lands once", async () => {
  const w = world();
  const t0 = w.clock.wallMs();
  const expected = [...w.put("a", 0, 30).data, ...w.put("b", 0, 30).data];
  await runOnce(w, subscriber(w, "w1").sub);
  const position = (await w.states.read(w.a))!.state.position!;

  // The subscriber stays away for two hours; the retention trims shard a past its checkpoint.
  w.clock.tick(HOUR);
  const lost = w.put("a", 30, 50);
  expected.push(...w.put("b", 30, 50).data);
  w.clock.tick(HOUR);
  const kept = w.put("a", 50, 70);
  expected.push(...kept.data, ...w.put("b", 50, 70).data);
  w.source.trimBefore(t0 + 1.5 * HOUR, w.a);

  const stops: ShardStoppedEvent[] = [];
  const metrics = new Metrics();
  const { lines, log } = captureLog();
  const second = subscriber(w, "w2", both({ shardStopped: (e) => stops.push(e) }, supervisorTelemetry(metrics, log, { appName: "test" })));
  await runOnce(w, second.sub);

  assert.equal(stops.length, 1, "one shard stopped");
  const stop = stops[0]!;
  assert.equal(stop.shardId, w.a);
  assert.deepEqual(stop.stopped.asked, position, "the checkpoint the stream no longer has");
  assert.equal(stop.stopped.firstAvailable, kept.seqs[0], "the oldest record left");
  assert.equal(stop.stopped.by, "w2");
  const errors = lines.filter((l) => l.level === "error");
  assert.equal(errors.length, 1, "one ERROR line");
  const line = errors[0]!.text;
  assert.match(line, new RegExp(`Shard ${w.a} of orders is STOPPED`));
  assert.ok(line.includes(`the records after ${position.sequenceNumber}/0 and before ${kept.seqs[0]}`), `the ERROR names the range that may be lost: ${line}`);
  assert.ok(line.includes(`data-subscriber checkpoints reset --stream orders --app-name test --shard ${w.a} --to trim-horizon`), `and the command that resumes it: ${line}`);
  assert.equal(metrics.get("data_subscriber_shards_stopped"), 1);
  assert.deepEqual([...second.sub.stoppedShards().keys()], [w.a]);

  const state = (await w.states.read(w.a))!.state;
  assert.deepEqual([state.stopped?.asked, state.lease.owner, state.batch, state.position], [position, null, 1, position], "stopped, released, not moved on");
  const log1 = await readLog(w.store);
  assert.deepEqual(log1.filter((e) => e.shardId === w.a).map((e) => e.batch), [1], "nothing of shard a after the gap");
  assert.equal(log1.filter((e) => e.shardId === w.b).flatMap((e) => e.records).length, 70, "shard b committed everything");

  const status = (await shardStatusLines(w.source, w.states, { type: "TRIM_HORIZON" }, "test")).join("\n");
  assert.match(status, new RegExp(`${w.a} +- +1 STOPPED`));
  assert.ok(status.includes(stop.stopped.reason), "status shows the reason");
  assert.ok(status.includes(`checkpoints reset --stream orders --app-name test --shard ${w.a} --to trim-horizon`));

  // A restart: the stopped shard is neither taken nor read.
  const callsBefore = w.source.calls.get(w.a) ?? 0;
  const third = subscriber(w, "w3");
  await runOnce(w, third.sub);
  assert.equal(w.source.calls.get(w.a) ?? 0, callsBefore, "no GetRecords on the stopped shard");
  assert.deepEqual([...third.sub.stoppedShards().keys()], [w.a], "a restart finds it stopped");
  assert.equal((await readLog(w.store)).length, log1.length, "nothing new committed");

  // The operator resets it to the trim horizon; records keep coming meanwhile.
  expected.push(...w.put("a", 70, 80).data, ...w.put("b", 70, 80).data);
  assert.deepEqual(await resetCheckpoints(w.states, { shards: [w.a], to: { type: "TRIM_HORIZON" }, leaseDurationMs: LEASE_MS }, { clock: w.clock, print: () => {} }), [w.a]);
  const fourth = subscriber(w, "w4");
  await runOnce(w, fourth.sub);
  assert.equal(fourth.sub.stoppedShards().size, 0);
  const entries = await readLog(w.store);
  checkExactlyOnce(entries, expected);
  assert.ok(lost.data.every((d) => !entries.some((e) => e.records.some((r) => r.data === d))), "the trimmed records are not there (they are gone)");
  const after = (await w.states.read(w.a))!.state;
  assert.deepEqual([after.stopped, after.restartAt, after.intent], [null, null, null], "the restart position was used once and cleared");
  assert.ok(after.batch >= 2, "the batch counter went on from where it was");
  const batches = entries.filter((e) => e.shardId === w.a).map((e) => e.batch);
  assert.deepEqual(batches, [...batches].sort((x, y) => x - y), "shard a's batches in increasing order");
  assert.equal(new Set(batches).size, batches.length, "no batch number used twice");
});

test("an intent the retention trimmed in part stops the shard, commits nothing of it, and keeps it for the operator; the other shard's intent is replayed", async () => {
  const w = world();
  const t0 = w.clock.wallMs();
  const earlyA = w.put("a", 0, 20);
  const expected = [...w.put("b", 0, 20).data];
  w.clock.tick(HOUR);
  const lateA = w.put("a", 20, 40);
  expected.push(...w.put("b", 20, 40).data);

  // The first worker writes the intents, then dies before any table is touched.
  const first = subscriber(w, "w1");
  first.handler.crashOnCall = 1;
  await assert.rejects(runOnce(w, first.sub), (err: Error) => err.cause instanceof CrashError);
  const intent = (await w.states.read(w.a))!.state.intent!;
  assert.deepEqual([intent.first?.sequenceNumber, intent.last?.sequenceNumber, intent.records], [earlyA.seqs[0], lateA.seqs.at(-1), 40], "shard a's intent covers both hours");
  assert.ok((await w.states.read(w.b))!.state.intent, "shard b has an intent too");

  // The retention trims the first half of shard a's intent.
  w.source.trimBefore(t0 + HOUR / 2, w.a);
  const stops: ShardStoppedEvent[] = [];
  const second = subscriber(w, "w2", { shardStopped: (e) => stops.push(e) });
  await runOnce(w, second.sub);

  assert.equal(stops.length, 1);
  assert.equal(stops[0]!.shardId, w.a);
  assert.deepEqual(stops[0]!.intent, intent, "the event carries the intent that cannot be replayed in full");
  assert.deepEqual(stops[0]!.stopped.asked, intent.first);
  assert.equal(stops[0]!.stopped.firstAvailable, lateA.seqs[0]);
  const entries = await readLog(w.store);
  assert.deepEqual(entries.filter((e) => e.shardId === w.a), [], "nothing of shard a's intent is committed, not even the part still there");
  checkExactlyOnce(entries.filter((e) => e.shardId === w.b), expected);
  const state = (await w.states.read(w.a))!.state;
  assert.deepEqual([state.stopped?.intentBatch, state.intent, state.batch, state.lease.owner], [intent.batch, intent, 0, null], "stopped with its intent kept, the counter unmoved, released");

  // The reset drops the intent, moves the counter past its batch and the position past its range.
  const more = w.put("a", 40, 50);
  assert.deepEqual(await resetCheckpoints(w.states, { shards: "all", to: { type: "TRIM_HORIZON" }, leaseDurationMs: LEASE_MS }, { clock: w.clock, print: () => {} }), [w.a, w.b]);
  const reset = (await w.states.read(w.a))!.state;
  assert.deepEqual([reset.intent, reset.stopped, reset.batch, reset.position], [null, null, intent.batch, intent.last], "the intent's batch number stays used");
  await runOnce(w, subscriber(w, "w3").sub);
  const final = await readLog(w.store);
  checkExactlyOnce(final, [...expected, ...more.data]);
  assert.deepEqual(final.filter((e) => e.shardId === w.a).map((e) => e.batch), [intent.batch + 1], "the next batch of shard a is numbered after the dropped intent's");
});

test("a gap met while reading on (the iterator expired after the retention trimmed past it) commits what was read before it, then stops the shard", async () => {
  const w = world();
  const t0 = w.clock.wallMs();
  const early = w.put("a", 0, 10);
  w.clock.tick(HOUR);
  w.put("a", 10, 20);
  w.clock.tick(HOUR);
  const late = w.put("a", 20, 30);
  const stops: ShardStoppedEvent[] = [];
  const handler = new LogHandler(w.store, "w1");
  // One record per call: the reader delivers the early records one by one; after the third
  // the retention trims the first two hours and its iterator expires.
  const sub = new Supervisor(w.source, w.states, w.clock, handler, {
    appName: "test",
    batch: { maxRecords: 100, maxAgeMs: 1_000 },
    reader: { idleDelayMs: 200, maxRecordsPerCall: 1 },
    lease: { workerId: "w1", leaseDurationMs: LEASE_MS },
  }, {
    shardStopped: (e) => stops.push(e),
    lag: (shardId) => {
      if (shardId === w.a && (w.source.calls.get(w.a) ?? 0) === 3) {
        w.source.trimBefore(t0 + 1.5 * HOUR, w.a);
        w.source.inject(w.a, "expire");
      }
    },
  });
  await runOnce(w, sub);
  assert.equal(stops.length, 1);
  assert.deepEqual(stops[0]!.stopped.asked, { sequenceNumber: early.seqs[2]!, subSequenceNumber: 0 }, "the last record read");
  assert.equal(stops[0]!.stopped.firstAvailable, late.seqs[0]);
  const entries = await readLog(w.store);
  assert.deepEqual(entries.flatMap((e) => e.records.map((r) => r.data)), early.data.slice(0, 3), "the records read before the gap are committed");
  const state = (await w.states.read(w.a))!.state;
  assert.deepEqual([state.position?.sequenceNumber, state.stopped?.asked.sequenceNumber], [early.seqs[2], early.seqs[2]]);
});

test("checkpoints reset refuses while a running worker holds the shard, and the worker goes on undisturbed", async () => {
  const w = world();
  const expected = [...w.put("a", 0, 10).data, ...w.put("b", 0, 10).data];
  const { sub } = subscriber(w, "w1");
  const ctl = new AbortController();
  const running = sub.run(ctl.signal);
  await w.clock.tickAsync(3 * LEASE_MS);
  assert.ok(sub.leases.holds(w.a));
  await assert.rejects(
    w.clock.settle(resetCheckpoints(w.states, { shards: "all", to: { type: "LATEST" }, leaseDurationMs: LEASE_MS }, { clock: w.clock, print: () => {} })),
    (err: Error) => new RegExp(`a worker holds the lease of ${w.a} \\(held by w1, renewed \\d+ s ago`).test(err.message),
  );
  expected.push(...w.put("a", 10, 20).data);
  await w.clock.tickAsync(3 * LEASE_MS);
  ctl.abort();
  await w.clock.settle(running);
  checkExactlyOnce(await readLog(w.store), expected);
  assert.equal((await w.states.read(w.a))!.state.restartAt ?? null, null);
});
