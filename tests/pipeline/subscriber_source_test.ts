/**
 * The source side of the subscriber against the in-memory stream: every record once,
 * in order per key, parents before children, through resharding, faults, crashes,
 * restarts and several workers.
 */
import { POLICIES } from "../../src/core/retry/policies.ts";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { ScriptedSource } from "../../src/adapters/memory/scripted_source.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
import { systemClock } from "../../src/ports/clock.ts";
import type { IteratorPosition, RecordSource } from "../../src/ports/record_source.ts";
import type { ObjectStore } from "../../src/ports/object_store.ts";
import { type Freezer, freezableSource, freezableStore } from "../helpers/freezable.ts";
import { Supervisor, type SupervisorEvents } from "../../src/engine/supervisor.ts";
import { checkExactlyOnce, CrashError, LogHandler, readLog } from "../helpers/log_handler.ts";
import { waitFor } from "../helpers/servers.ts";

const enc = new TextEncoder();

function makeSubscriber(source: RecordSource, store: ObjectStore, worker: string, opts: { initial?: IteratorPosition; events?: SupervisorEvents; leaseMs?: number } = {}) {
  const handler = new LogHandler(store, worker);
  const sub = new Supervisor(source, new ShardStateStore(store, "checkpoints/"), systemClock, handler, {
    appName: "test",
    ...(opts.initial ? { initialPosition: opts.initial } : {}),
    batch: { maxRecords: 200, maxAgeMs: 50 },
    reader: { idleDelayMs: 10, backoffMs: 5, maxBackoffMs: 20, maxCallsPerSecond: 1000 },
    lease: { workerId: worker, leaseDurationMs: opts.leaseMs ?? 400, renewIntervalMs: Math.floor((opts.leaseMs ?? 400) / 4), shardSyncIntervalMs: 100 },
    commitPolicy: { ...POLICIES.batchCommit, attempts: 1 },
  }, opts.events ?? {});
  return { sub, handler };
}

function put(source: ScriptedSource, from: number, to: number): string[] {
  const keys: string[] = [];
  for (let i = from; i < to; i++) {
    const key = `key-${i % 37}`;
    source.put(key, enc.encode(`${key}:${i}`));
    keys.push(`${key}:${i}`);
  }
  return keys;
}


async function runUntil(sub: Supervisor, done: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const ctl = new AbortController();
  const running = sub.run(ctl.signal);
  try {
    await waitFor("all records committed", done, timeoutMs);
  } finally {
    ctl.abort();
    await running;
  }
}

const committed = async (store: MemoryStore) => (await readLog(store)).reduce((n, e) => n + e.records.length, 0);

describe("subscriber over the in-memory stream", () => {
  test("every record is committed once, in order per key, while shards split and merge", async () => {
    const source = new ScriptedSource("orders", 4);
    const store = new MemoryStore();
    const { sub } = makeSubscriber(source, store, "w1");
    const expected = put(source, 0, 500);
    const ctl = new AbortController();
    const running = sub.run(ctl.signal);
    await waitFor("first records", async () => (await committed(store)) > 100);
    const [a, b] = source.openShards();
    const [c, d] = source.openShards().slice(2);
    source.split(a!);
    expected.push(...put(source, 500, 1000));
    source.merge(c!, d!);
    expected.push(...put(source, 1000, 1500));
    source.split(b!);
    expected.push(...put(source, 1500, 2000));
    await waitFor("all records", async () => (await committed(store)) >= expected.length, 20_000);
    ctl.abort();
    await running;
    const entries = await readLog(store);
    checkExactlyOnce(entries, expected);
    // Parents before children: a child's first commit comes after its parents' last.
    const shards = await source.listShards();
    for (const s of shards) {
      const parents = [s.parentShardId, s.adjacentParentShardId].filter(Boolean);
      const firstChild = entries.findIndex((e) => e.shardId === s.shardId);
      for (const p of parents) {
        const lastParent = entries.map((e) => e.shardId).lastIndexOf(p!);
        if (firstChild >= 0) assert.ok(lastParent < firstChild, `${p} committed before its child ${s.shardId}`);
      }
    }
  });

  test("a restart resumes exactly after the last committed record", async () => {
    const source = new ScriptedSource("orders", 2);
    const store = new MemoryStore();
    const expected = put(source, 0, 300);
    await runUntil(makeSubscriber(source, store, "w1").sub, async () => (await committed(store)) >= 300);
    expected.push(...put(source, 300, 600));
    await runUntil(makeSubscriber(source, store, "w2").sub, async () => (await committed(store)) >= 600);
    checkExactlyOnce(await readLog(store), expected);
  });

  test("a lease round that fails on S3 trouble is retried, not fatal", async () => {
    const source = new ScriptedSource("orders", 2);
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
    const expected = put(source, 0, 50);
    const { sub } = makeSubscriber(source, flaky, "w1", { events: { leaseRoundFailed: (e) => rounds.push(e) } });
    await runUntil(sub, async () => (await committed(store)) >= 50);
    assert.ok(rounds.length > 0, "the failing rounds were reported");
    checkExactlyOnce(await readLog(store), expected);
  });

  test("a graceful stop releases every lease, so another worker takes the shards at once", async () => {
    const source = new ScriptedSource("orders", 3);
    const store = new MemoryStore();
    put(source, 0, 30);
    await runUntil(makeSubscriber(source, store, "w1").sub, async () => (await committed(store)) >= 30);
    const states = new ShardStateStore(store, "checkpoints/");
    for (const id of source.openShards()) {
      const st = (await states.read(id))!.state;
      assert.equal(st.lease.owner, null, `${id} released`);
      assert.equal(st.intent, null);
    }
  });

  test("an intent left by a crash after the tables were written is replayed without duplicates", async () => {
    const source = new ScriptedSource("orders", 2);
    const store = new MemoryStore();
    const expected = put(source, 0, 400);
    const first = makeSubscriber(source, store, "w1");
    first.handler.crashOnCall = 2;
    first.handler.crashAfterWrite = true;
    await assert.rejects(first.sub.run(new AbortController().signal), (err: Error) => err.cause instanceof CrashError);
    const states = new ShardStateStore(store, "checkpoints/");
    const withIntent = [];
    for (const id of source.openShards()) if ((await states.read(id))?.state.intent) withIntent.push(id);
    assert.ok(withIntent.length > 0, "the crash left an intent");
    const second = makeSubscriber(source, store, "w2");
    await runUntil(second.sub, async () => (await committed(store)) >= 400);
    assert.ok(second.handler.skipped > 0, "the replay found its batch already written and skipped it");
    checkExactlyOnce(await readLog(store), expected);
  });

  test("an intent left by a crash before the tables were written is replayed and committed once", async () => {
    const source = new ScriptedSource("orders", 3);
    const store = new MemoryStore();
    const expected = put(source, 0, 300);
    const first = makeSubscriber(source, store, "w1");
    first.handler.crashOnCall = 1;
    await assert.rejects(first.sub.run(new AbortController().signal), (err: Error) => err.cause instanceof CrashError);
    await runUntil(makeSubscriber(source, store, "w2").sub, async () => (await committed(store)) >= 300);
    const entries = await readLog(store);
    assert.ok(entries.some((e) => e.replay), "a batch was replayed");
    checkExactlyOnce(entries, expected);
  });

  test("throttling storms, expired iterators, empty responses and server errors lose nothing", async () => {
    const source = new ScriptedSource("orders", 4);
    const store = new MemoryStore();
    const retries: string[] = [];
    const { sub } = makeSubscriber(source, store, "w1", { events: { readRetry: (_, err) => retries.push(err.name) } });
    const expected = put(source, 0, 200);
    for (const id of source.openShards()) {
      source.inject(id, "throttle", "throttle", "throttle", "throttle", "throttle", "empty", "empty", "expire", "error", "error", "error", "empty");
    }
    const ctl = new AbortController();
    const running = sub.run(ctl.signal);
    await waitFor("first half", async () => (await committed(store)) >= 200);
    for (const id of source.openShards()) source.inject(id, "expire", "throttle", "error", "empty", "expire");
    expected.push(...put(source, 200, 400));
    await waitFor("second half", async () => (await committed(store)) >= 400);
    ctl.abort();
    await running;
    checkExactlyOnce(await readLog(store), expected);
    for (const kind of ["ThrottledError", "ExpiredIteratorError", "TransientSourceError"]) assert.ok(retries.includes(kind), `${kind} was met and retried`);
  });

  test("LATEST starts at the tip and AT_TIMESTAMP at the first record at or after the time", async () => {
    const source = new ScriptedSource("orders", 2);
    put(source, 0, 50);
    const store = new MemoryStore();
    const { sub } = makeSubscriber(source, store, "w1", { initial: { type: "LATEST" } });
    const ctl = new AbortController();
    const running = sub.run(ctl.signal);
    await waitFor("readers polling at the tip", () => source.openShards().every((id) => (source.calls.get(id) ?? 0) > 0));
    const later = put(source, 50, 80);
    await waitFor("new records", async () => (await committed(store)) >= 30);
    ctl.abort();
    await running;
    checkExactlyOnce(await readLog(store), later);

    const source2 = new ScriptedSource("orders", 2);
    const at = new Date(Date.now() + 20);
    put(source2, 0, 10);
    await new Promise((r) => setTimeout(r, 40));
    const after = put(source2, 10, 25);
    const store2 = new MemoryStore();
    await runUntil(makeSubscriber(source2, store2, "w1", { initial: { type: "AT_TIMESTAMP", timestamp: at } }).sub, async () => (await committed(store2)) >= 15);
    checkExactlyOnce(await readLog(store2), after);
  });
});

describe("several workers on one stream", () => {
  test("share the shards, one owner each, and take over a crashed worker's shards within two lease periods", async () => {
    const source = new ScriptedSource("orders", 8);
    const store = new MemoryStore();
    const leaseMs = 600;
    const freezers: Freezer[] = [0, 1, 2].map(() => ({ frozen: false }));
    const workers = ["w1", "w2", "w3"].map((w, i) => ({
      name: w,
      ...makeSubscriber(freezableSource(source, freezers[i]!), freezableStore(store, freezers[i]!), w, { leaseMs }),
      ctl: new AbortController(),
    }));
    const runs = workers.map((w) => w.sub.run(w.ctl.signal).catch((e) => e));
    const expected = put(source, 0, 300);
    await waitFor("balanced leases", () => workers.every((w) => w.sub.leases.heldShards().length >= 2 && w.sub.leases.heldShards().length <= 3), 10_000);
    const owners = new Map<string, string[]>();
    for (const w of workers) for (const s of w.sub.leases.heldShards()) owners.set(s, [...(owners.get(s) ?? []), w.name]);
    assert.equal(owners.size, 8, "every shard has an owner");
    for (const [s, o] of owners) assert.equal(o.length, 1, `${s} has one owner: ${o}`);
    await waitFor("first records", async () => (await committed(store)) >= 300);

    // w3 freezes as if killed: no call of it returns, so it neither renews nor releases.
    const dead = workers[2]!;
    const orphaned = dead.sub.leases.heldShards();
    const killedAt = Date.now();
    freezers[2]!.frozen = true;
    expected.push(...put(source, 300, 600));
    await waitFor("orphaned shards taken over", () => orphaned.every((s) => workers.slice(0, 2).some((w) => w.sub.leases.holds(s))), 10_000);
    const takeover = Date.now() - killedAt;
    assert.ok(takeover <= 2 * leaseMs + 400, `taken over in ${takeover} ms (lease ${leaseMs} ms)`);
    await waitFor("all records", async () => (await committed(store)) >= 600, 10_000);
    for (const w of workers.slice(0, 2)) w.ctl.abort();
    await Promise.all(runs.slice(0, 2));
    checkExactlyOnce(await readLog(store), expected);
  });
});
