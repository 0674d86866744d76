/**
 * The supervisor over the in-memory stream on a fake clock: the shared suite
 * (tests/helpers/supervisor_suite.ts), then what only an in-memory world can script:
 * failing lease rounds, fault storms, and several workers with one frozen as if killed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeClock } from "../../src/adapters/memory/fake_clock.ts";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { ScriptedSource } from "../../src/adapters/memory/scripted_source.ts";
import { POLICIES } from "../../src/core/retry/policies.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
import type { BatchSink } from "../../src/engine/batch_sink.ts";
import { Supervisor } from "../../src/engine/supervisor.ts";
import type { RecordSource } from "../../src/ports/record_source.ts";
import { type Freezer, freezableSource, freezableStore } from "../helpers/freezable.ts";
import { checkExactlyOnce, readLog } from "../helpers/log_handler.ts";
import { committed, KEYS, makeWorker, runSupervisorSuite, runUntil, start, type StreamHandle, type SupervisorWorld } from "../helpers/supervisor_suite.ts";

const enc = new TextEncoder();

/** The in-memory world: one fake clock for the stream, the stores and the workers. */
function memoryWorld(): SupervisorWorld {
  const clock = new FakeClock({ wallMs: Date.UTC(2026, 0, 1) });
  const world: SupervisorWorld = {
    name: "in-memory stream, fake clock",
    clock,
    stream: (name, shards) => Promise.resolve(memoryStream(new ScriptedSource(name, shards, clock))),
    store: (name) => Promise.resolve(new MemoryStore(name, () => clock.wallMs())),
    async waitFor(what, check, timeoutMs = 30_000) {
      const deadline = clock.monoMs() + timeoutMs;
      while (!(await check())) {
        if (clock.monoMs() >= deadline) throw new Error(`Waited ${timeoutMs} ms of fake time for ${what}`);
        await clock.tickAsync(10);
      }
    },
    settle: (p) => clock.settle(p),
    pass: (ms) => clock.tickAsync(ms),
    timing: { leaseMs: 400, idleDelayMs: 10, maxCallsPerSecond: 1000, backoffMs: 5, maxBackoffMs: 20 },
    pollingAtTip: (handle) => {
      const source = (handle as MemoryStream).scripted;
      return Promise.resolve(() => source.openShards().every((id) => (source.calls.get(id) ?? 0) > 0));
    },
  };
  return world;
}

interface MemoryStream extends StreamHandle {
  scripted: ScriptedSource;
}

function memoryStream(source: ScriptedSource): MemoryStream {
  return {
    scripted: source,
    source: () => source,
    put(from, to) {
      const out: string[] = [];
      for (let i = from; i < to; i++) {
        const d = `key-${i % KEYS}:${i}`;
        source.put(d.split(":")[0]!, enc.encode(d));
        out.push(d);
      }
      return Promise.resolve(out);
    },
    split() {
      source.split(source.openShards()[0]!);
      return Promise.resolve();
    },
    async merge() {
      const open = (await source.listShards()).filter((s) => s.endingSequenceNumber === undefined);
      for (const a of open) {
        const b = open.find((x) => BigInt(a.hashKeyRange.endingHashKey) + 1n === BigInt(x.hashKeyRange.startingHashKey));
        if (b) return void source.merge(a.shardId, b.shardId);
      }
      throw new Error("no two adjacent open shards to merge");
    },
    shards: () => source.listShards(),
  };
}

runSupervisorSuite(() => Promise.resolve(memoryWorld()));

describe("the supervisor, in-memory only", () => {
  test("a lease round that fails on S3 trouble is retried, not fatal", async () => {
    const world = memoryWorld();
    const stream = memoryStream(new ScriptedSource("orders", 2, world.clock));
    const store = new MemoryStore();
    let failures = 3;
    const flaky = new Proxy(store, {
      get(t, prop, receiver) {
        const v = Reflect.get(t, prop, receiver);
        if (prop !== "getVersioned" || typeof v !== "function") return typeof v === "function" ? v.bind(t) : v;
        return (...args: unknown[]) => (failures-- > 0 ? Promise.reject(new Error("503 SlowDown")) : v.apply(t, args));
      },
    });
    const rounds: unknown[] = [];
    const expected = await stream.put(0, 50);
    const { sub } = makeWorker(world, stream.source(), flaky, "w1", { events: { leaseRoundFailed: (e) => rounds.push(e) } });
    await runUntil(world, sub, async () => (await committed(store)) >= 50);
    assert.ok(rounds.length > 0, "the failing rounds were reported");
    checkExactlyOnce(await readLog(store), expected);
  });

  test("throttling storms, expired iterators, empty responses and server errors lose nothing", async () => {
    const world = memoryWorld();
    const scripted = new ScriptedSource("orders", 4, world.clock);
    const stream = memoryStream(scripted);
    const store = new MemoryStore();
    const retries: string[] = [];
    const { sub } = makeWorker(world, scripted, store, "w1", { events: { readRetry: (_, err) => retries.push(err.name) } });
    const expected = await stream.put(0, 200);
    for (const id of scripted.openShards()) {
      scripted.inject(id, "throttle", "throttle", "throttle", "throttle", "throttle", "empty", "empty", "expire", "error", "error", "error", "empty");
    }
    const run = start(world, sub);
    await world.waitFor("first half", async () => (await committed(store)) >= 200);
    for (const id of scripted.openShards()) scripted.inject(id, "expire", "throttle", "error", "empty", "expire");
    expected.push(...(await stream.put(200, 400)));
    await world.waitFor("second half", async () => (await committed(store)) >= 400);
    await run.stop();
    checkExactlyOnce(await readLog(store), expected);
    for (const kind of ["ThrottledError", "ExpiredIteratorError", "TransientSourceError"]) assert.ok(retries.includes(kind), `${kind} was met and retried`);
  });

  test("several workers share the shards, one owner each, and take over a frozen worker's shards within two lease periods", async () => {
    const world = memoryWorld();
    const scripted = new ScriptedSource("orders", 8, world.clock);
    const stream = memoryStream(scripted);
    const store = new MemoryStore();
    const leaseMs = 600;
    const freezers: Freezer[] = [0, 1, 2].map(() => ({ frozen: false }));
    const workers = ["w1", "w2", "w3"].map((w, i) => ({
      name: w,
      ...makeWorker(world, freezableSource(scripted, freezers[i]!), freezableStore(store, freezers[i]!), w, { leaseMs }),
      ctl: new AbortController(),
    }));
    const runs = workers.map((w) => w.sub.run(w.ctl.signal).catch((e) => e));
    const expected = await stream.put(0, 300);
    await world.waitFor("balanced leases", () => workers.every((w) => w.sub.leases.heldShards().length >= 2 && w.sub.leases.heldShards().length <= 3), 10_000);
    const owners = new Map<string, string[]>();
    for (const w of workers) for (const s of w.sub.leases.heldShards()) owners.set(s, [...(owners.get(s) ?? []), w.name]);
    assert.equal(owners.size, 8, "every shard has an owner");
    for (const [s, o] of owners) assert.equal(o.length, 1, `${s} has one owner: ${o}`);
    await world.waitFor("first records", async () => (await committed(store)) >= 300);

    // w3 freezes as if killed: no call of it returns, so it neither renews nor releases.
    const dead = workers[2]!;
    const orphaned = dead.sub.leases.heldShards();
    const frozenAt = world.clock.monoMs();
    freezers[2]!.frozen = true;
    expected.push(...(await stream.put(300, 600)));
    await world.waitFor("orphaned shards taken over", () => orphaned.every((s) => workers.slice(0, 2).some((w) => w.sub.leases.holds(s))), 10_000);
    const takeover = world.clock.monoMs() - frozenAt;
    assert.ok(takeover <= 2 * leaseMs, `taken over in ${takeover} ms of the workers' time (lease ${leaseMs} ms)`);
    await world.waitFor("all records", async () => (await committed(store)) >= 600, 10_000);
    for (const w of workers.slice(0, 2)) w.ctl.abort();
    await world.settle(Promise.all(runs.slice(0, 2)));
    checkExactlyOnce(await readLog(store), expected);
  });

  test("records read just before a lease is lost are not committed twice when the shard is taken again", async () => {
    const world = memoryWorld();
    const scripted = new ScriptedSource("stale", 1, world.clock);
    const stream = memoryStream(scripted);
    const expected = await stream.put(0, 10);
    // The first GetRecords answer is held back, as if it arrived just as the lease was lost
    // (the body was already read, so the abort no longer cancels it).
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const source: RecordSource = {
      streamName: scripted.streamName,
      listShards: () => scripted.listShards(),
      getIterator: (id, p) => scripted.getIterator(id, p),
      async getRecords(it, limit) {
        const res = await scripted.getRecords(it, limit);
        if (++calls === 1) await gate;
        return res;
      },
    };
    const store = new MemoryStore();
    const states = new ShardStateStore(store, "checkpoints/");
    const { sub } = makeWorker(world, source, store, "A", { maxRecords: 1000 });
    const run = start(world, sub);
    const shard = "shardId-000000000000";
    await world.waitFor("A holds the shard and waits for its first GetRecords", () => sub.leases.holds(shard) && calls === 1);
    // Another worker takes the shard and gives it back: owner null, nothing committed yet.
    const v = (await states.read(shard))!;
    assert.ok(await states.write({ ...v.state, lease: { ...v.state.lease, owner: null, counter: v.state.lease.counter + 1 } }, v.etag, world.clock.wallMs()));
    await world.waitFor("A notices the lost lease", () => !sub.leases.holds(shard));
    release(); // the read from before the loss now reaches the batcher
    await world.waitFor("A takes the shard again", () => sub.leases.holds(shard));
    await world.waitFor("10 records committed", async () => (await committed(store)) >= 10);
    await world.pass(2_000); // anything committed twice would be by now
    await run.stop();
    checkExactlyOnce(await readLog(store), expected);
  });

  test("run --once ends with the error when a batch fails while a lease round is in flight (it never waits for a flush that cannot come)", async () => {
    const world = memoryWorld();
    const scripted = new ScriptedSource("orders", 2, world.clock);
    await memoryStream(scripted).put(0, 50);
    // Lease rounds list the shards every time, slowly: the batch fails inside one.
    const slowList: RecordSource = {
      streamName: scripted.streamName,
      listShards: async () => (await world.clock.sleep(300), await scripted.listShards()),
      getIterator: (id, p) => scripted.getIterator(id, p),
      getRecords: (it, limit) => scripted.getRecords(it, limit),
    };
    const failing: BatchSink = { commit: () => Promise.reject(new Error("the tables are unwritable")) };
    const sub = new Supervisor(slowList, new ShardStateStore(new MemoryStore(), "checkpoints/"), world.clock, failing, {
      batch: { maxRecords: 1000, maxAgeMs: 50 },
      reader: { idleDelayMs: 10, maxCallsPerSecond: 1000 },
      lease: { workerId: "w1", leaseDurationMs: 4_000, renewIntervalMs: 100, shardSyncIntervalMs: 1 },
      commitPolicy: { ...POLICIES.batchCommit, attempts: 1 },
    });
    await assert.rejects(world.settle(sub.run(new AbortController().signal, { once: true })), /unwritable/);
  });
});
