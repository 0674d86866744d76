/**
 * One suite for the supervisor over any record source: every record once, in order per
 * key, parents before children while shards split and merge; restarts; LATEST and
 * AT_TIMESTAMP; graceful stops that release; intents left by crashes, replayed once.
 *
 * It runs over the in-memory stream on a fake clock (tests/engine/supervisor_test.ts) and
 * over kinesis-local on the real clock (tests/contract/kinesis_source_test.ts): a world
 * says how to make streams and stores and how time passes.
 */
import assert from "node:assert/strict";
import { describe, test as nodeTest } from "node:test";
import { POLICIES } from "../../src/core/retry/policies.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
import type { FaultPoint } from "../../src/engine/fault_point.ts";
import { Supervisor, type SupervisorEvents } from "../../src/engine/supervisor.ts";
import type { Clock } from "../../src/ports/clock.ts";
import type { ObjectStore } from "../../src/ports/object_store.ts";
import type { IteratorPosition, RecordSource, ShardDescription } from "../../src/ports/record_source.ts";
import { checkExactlyOnce, CrashError, type LogEntry, LogHandler, readLog } from "./log_handler.ts";

/** Partition keys; records are `key-<i % 37>:<i>`, so per-key order is put order. */
export const KEYS = 37;

/** A stream of a world. */
export interface StreamHandle {
  /** A source for one worker. */
  source(): RecordSource;
  /** Puts records `i` in [from, to) as `key-<i % 37>:<i>`; returns their data, in put order. */
  put(from: number, to: number): Promise<string[]>;
  /** Splits one open shard. */
  split(): Promise<void>;
  /** Merges two adjacent open shards. */
  merge(): Promise<void>;
  shards(): Promise<ShardDescription[]>;
}

/** How a world makes streams and stores, and how time passes in it. */
export interface SupervisorWorld {
  name: string;
  clock: Clock;
  stream(name: string, shards: number): Promise<StreamHandle>;
  store(name: string): Promise<ObjectStore>;
  /** Waits (moving time) until `check` holds, or fails after `timeoutMs` of the world's time. */
  waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** Lets time pass until `p` settles, and returns it. */
  settle<T>(p: Promise<T>): Promise<T>;
  /** Lets `ms` of the world's time pass. */
  pass(ms: number): Promise<void>;
  /** Lease and reader timings suited to the world. */
  timing: { leaseMs: number; idleDelayMs: number; maxCallsPerSecond: number; backoffMs: number; maxBackoffMs: number };
  /** Waits until every shard of a LATEST reader has its iterator (the reader polled once). */
  pollingAtTip(handle: StreamHandle): Promise<() => boolean>;
}

export interface WorkerSetup {
  initial?: IteratorPosition;
  events?: SupervisorEvents;
  maxRecords?: number;
  leaseMs?: number;
  fault?: (point: FaultPoint) => void;
}

/** A supervisor writing to a {@link LogHandler} (a sink that behaves as the txns make tables behave). */
export function makeWorker(world: SupervisorWorld, source: RecordSource, store: ObjectStore, worker: string, opts: WorkerSetup = {}) {
  const handler = new LogHandler(store, worker);
  const t = world.timing;
  const leaseMs = opts.leaseMs ?? t.leaseMs;
  const sub = new Supervisor(source, new ShardStateStore(store, "checkpoints/"), world.clock, handler, {
    appName: "test",
    ...(opts.initial ? { initialPosition: opts.initial } : {}),
    batch: { maxRecords: opts.maxRecords ?? 200, maxAgeMs: 50 },
    reader: { idleDelayMs: t.idleDelayMs, backoffMs: t.backoffMs, maxBackoffMs: t.maxBackoffMs, maxCallsPerSecond: t.maxCallsPerSecond },
    lease: { workerId: worker, leaseDurationMs: leaseMs, renewIntervalMs: Math.floor(leaseMs / 4), shardSyncIntervalMs: 100 },
    commitPolicy: { ...POLICIES.batchCommit, attempts: 1 },
    ...(opts.fault ? { fault: opts.fault } : {}),
  }, opts.events ?? {});
  return { sub, handler };
}

export const committed = async (store: ObjectStore) => (await readLog(store)).reduce((n, e) => n + e.records.length, 0);

/** Starts a run; `stop()` aborts it and waits until it has committed, advanced and released. */
export function start(world: SupervisorWorld, sub: Supervisor): { stop(): Promise<void> } {
  const ctl = new AbortController();
  const running = sub.run(ctl.signal);
  return {
    stop() {
      ctl.abort();
      return world.settle(running);
    },
  };
}

export async function runUntil(world: SupervisorWorld, sub: Supervisor, done: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const run = start(world, sub);
  try {
    await world.waitFor("all records committed", done, timeoutMs);
  } finally {
    await run.stop();
  }
}

/** Each shard's batches are numbered 1, 2, … without a gap. */
export function checkBatchesPerShard(entries: LogEntry[]): void {
  const byShard = new Map<string, number[]>();
  for (const e of entries) byShard.set(e.shardId, [...(byShard.get(e.shardId) ?? []), e.batch]);
  for (const [shard, batches] of byShard) {
    const sorted = [...new Set(batches)].sort((a, b) => a - b);
    assert.deepEqual(sorted, sorted.map((_, i) => i + 1), `batches of ${shard} are 1..n without a gap`);
  }
}

/** A child's first commit comes after each of its parents' last, and the parents are finished. */
export async function checkParentsFirst(entries: LogEntry[], shards: ShardDescription[], store: ObjectStore): Promise<void> {
  const states = new ShardStateStore(store, "checkpoints/");
  const ids = entries.map((e) => e.shardId);
  for (const child of shards) {
    const parents = [child.parentShardId, child.adjacentParentShardId].filter((p): p is string => !!p);
    const firstChild = ids.indexOf(child.shardId);
    if (firstChild < 0) continue;
    for (const p of parents) {
      const lastParent = ids.lastIndexOf(p);
      assert.ok(lastParent < firstChild, `${p}'s last commit (#${lastParent}) comes before its child ${child.shardId}'s first (#${firstChild})`);
      assert.equal((await states.read(p))?.state.finished, true, `${p} is finished`);
    }
  }
}

/**
 * @param skip titles of tests a world leaves out, each with the reason (printed as the skip).
 */
export function runSupervisorSuite(makeWorld: () => Promise<SupervisorWorld>, skip: Record<string, string> = {}): void {
  const test = (title: string, fn: () => Promise<void>) => (skip[title] ? nodeTest(title, { skip: skip[title] }, fn) : nodeTest(title, fn));
  let world: SupervisorWorld;
  const w = async () => (world ??= await makeWorld());

  describe("the supervisor", () => {
    test("every record is committed once, in order per key, parents before children, while shards split and merge", async () => {
      const wd = await w();
      const stream = await wd.stream("reshard", 4);
      const store = await wd.store("reshard");
      const run = start(wd, makeWorker(wd, stream.source(), store, "w1").sub);
      const expected: string[] = [];
      try {
        expected.push(...(await stream.put(0, 300)));
        await wd.waitFor("first records committed", async () => (await committed(store)) >= 150);
        await stream.split();
        expected.push(...(await stream.put(300, 600)));
        await stream.merge();
        expected.push(...(await stream.put(600, 900)));
        await wd.waitFor("all records committed", async () => (await committed(store)) >= expected.length, 120_000);
      } finally {
        await run.stop();
      }
      const entries = await readLog(store);
      checkExactlyOnce(entries, expected);
      checkBatchesPerShard(entries);
      const shards = await stream.shards();
      assert.equal(shards.filter((s) => s.parentShardId !== undefined).length, 3, "two children of the split and one of the merge");
      await checkParentsFirst(entries, shards, store);
    });

    test("a restart resumes exactly after the last committed record", async () => {
      const wd = await w();
      const stream = await wd.stream("restart", 3);
      const store = await wd.store("restart");
      const expected = await stream.put(0, 300);
      await runUntil(wd, makeWorker(wd, stream.source(), store, "w1").sub, async () => (await committed(store)) >= 300);
      expected.push(...(await stream.put(300, 600)));
      await runUntil(wd, makeWorker(wd, stream.source(), store, "w2").sub, async () => (await committed(store)) >= 600);
      const entries = await readLog(store);
      checkExactlyOnce(entries, expected);
      checkBatchesPerShard(entries);
      assert.ok(entries.some((e) => e.worker === "w1") && entries.some((e) => e.worker === "w2"), "both runs committed batches");
    });

    test("LATEST starts at the tip", async () => {
      const wd = await w();
      const stream = await wd.stream("latest", 2);
      await stream.put(0, 50);
      const store = await wd.store("latest");
      const polled = await wd.pollingAtTip(stream);
      const source = stream.source();
      const run = start(wd, makeWorker(wd, source, store, "w1", { initial: { type: "LATEST" } }).sub);
      let later: string[] = [];
      try {
        await wd.waitFor("readers polling at the tip", polled, 10_000);
        later = await stream.put(50, 90);
        await wd.waitFor("the new records committed", async () => (await committed(store)) >= later.length, 10_000);
      } finally {
        await run.stop();
      }
      checkExactlyOnce(await readLog(store), later);
    });

    test("AT_TIMESTAMP starts at the first record at or after the time", async () => {
      const wd = await w();
      const stream = await wd.stream("at-timestamp", 2);
      await stream.put(0, 30);
      // kinesis-local compares arrival times in whole seconds: a second clear on each side.
      await wd.pass(1_100);
      const at = new Date(wd.clock.wallMs());
      await wd.pass(1_100);
      const afterAt = await stream.put(30, 70);
      const store = await wd.store("at-timestamp");
      await runUntil(wd, makeWorker(wd, stream.source(), store, "w1", { initial: { type: "AT_TIMESTAMP", timestamp: at } }).sub, async () => (await committed(store)) >= afterAt.length);
      checkExactlyOnce(await readLog(store), afterAt);
    });

    test("a graceful stop releases every lease and leaves no intent", async () => {
      const wd = await w();
      const stream = await wd.stream("release", 3);
      const store = await wd.store("release");
      await stream.put(0, 30);
      await runUntil(wd, makeWorker(wd, stream.source(), store, "w1").sub, async () => (await committed(store)) >= 30);
      const states = new ShardStateStore(store, "checkpoints/");
      for (const s of await stream.shards()) {
        const st = (await states.read(s.shardId))!.state;
        assert.equal(st.lease.owner, null, `${s.shardId} released`);
        assert.equal(st.intent, null);
      }
    });

    test("an intent left by a crash after the tables were written is replayed without duplicates", async () => {
      const wd = await w();
      const stream = await wd.stream("crash-after", 2);
      const store = await wd.store("crash-after");
      const expected = await stream.put(0, 400);
      const first = makeWorker(wd, stream.source(), store, "w1");
      first.handler.crashOnCall = 2;
      first.handler.crashAfterWrite = true;
      const mismatches: string[] = [];
      await assert.rejects(wd.settle(first.sub.run(new AbortController().signal)), (err: Error) => err.cause instanceof CrashError);
      const states = new ShardStateStore(store, "checkpoints/");
      const withIntent = [];
      for (const s of await stream.shards()) if ((await states.read(s.shardId))?.state.intent) withIntent.push(s.shardId);
      assert.ok(withIntent.length > 0, "the crash left an intent");
      const second = makeWorker(wd, stream.source(), store, "w2", { events: { shardStopped: (e) => mismatches.push(JSON.stringify(e)) } });
      await runUntil(wd, second.sub, async () => (await committed(store)) >= 400);
      assert.deepEqual(mismatches, [], "every replay re-read its intent in full (no shard stopped)");
      const entries = await readLog(store);
      assert.ok(second.handler.skipped > 0 || entries.some((e) => e.replay), "the crashed batch was replayed (or found written and skipped)");
      checkExactlyOnce(entries, expected);
    });

    test("an intent left by a crash before the tables were written is replayed and committed once", async () => {
      const wd = await w();
      const stream = await wd.stream("crash-before", 3);
      const store = await wd.store("crash-before");
      const expected = await stream.put(0, 300);
      const first = makeWorker(wd, stream.source(), store, "w1");
      first.handler.crashOnCall = 1;
      await assert.rejects(wd.settle(first.sub.run(new AbortController().signal)), (err: Error) => err.cause instanceof CrashError);
      await runUntil(wd, makeWorker(wd, stream.source(), store, "w2").sub, async () => (await committed(store)) >= 300);
      const entries = await readLog(store);
      assert.ok(entries.some((e) => e.replay), "a batch was replayed");
      checkExactlyOnce(entries, expected);
    });
  });
}
