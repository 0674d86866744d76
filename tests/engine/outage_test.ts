/**
 * Outages on a fake clock: the store (S3) or the source (Kinesis) unavailable for minutes
 * is waited out, mid-run, with nothing lost or written twice; past the outage budget the
 * run ends with an OutageError (exit 4), and access errors end it at once (exit 5). The
 * binary's side (/readyz, exit codes, through a proxy) is in tests/cli/outage_cli_test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeClock } from "../../src/adapters/memory/fake_clock.ts";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { ScriptedSource } from "../../src/adapters/memory/scripted_source.ts";
import { failureKind, OutageError } from "../../src/core/retry/failure_kind.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
import type { UnavailableEvent } from "../../src/engine/exactly_once.ts";
import { Supervisor, type SupervisorEvents } from "../../src/engine/supervisor.ts";
import { type ObjectStore, StoreAccessError, StoreUnavailableError } from "../../src/ports/object_store.ts";
import { type RecordSource, TransientSourceError } from "../../src/ports/record_source.ts";
import { checkExactlyOnce, LogHandler, readLog } from "../helpers/log_handler.ts";

const enc = new TextEncoder();
const MIN = 60_000;

/** How the store misbehaves now. */
interface StoreSwitch {
  /** Every call fails before it reaches the store (connection refused). */
  down: boolean;
  /** Writes are applied, then their answer is lost (a reset after the server acted). */
  lostAnswers: boolean;
  /** Every call is refused for good (access denied). */
  denied: boolean;
}

const WRITES = new Set(["put", "putIfAbsent", "putIfMatch", "delete"]);

/** The store as one worker sees it through a network that the test switches. */
function switchedStore(inner: ObjectStore, sw: StoreSwitch): ObjectStore {
  return new Proxy(inner, {
    get(t, prop, receiver) {
      const v = Reflect.get(t, prop, receiver);
      if (typeof v !== "function") return v;
      const fail = () => {
        if (sw.denied) throw new StoreAccessError(`S3 refused ${String(prop)} of ${inner.url} (AccessDenied): check the policy`);
        if (sw.down) throw new StoreUnavailableError(`S3 ${String(prop)} of ${inner.url} failed (ECONNREFUSED)`);
      };
      if (prop === "list") {
        return async function* (...args: unknown[]) {
          fail();
          yield* (v as (...a: unknown[]) => AsyncIterable<unknown>).apply(t, args);
        };
      }
      return async (...args: unknown[]) => {
        fail();
        const out = await v.apply(t, args);
        if (sw.lostAnswers && WRITES.has(String(prop))) throw new StoreUnavailableError(`S3 ${String(prop)} of ${inner.url}: the connection was reset (the write was applied)`);
        return out;
      };
    },
  });
}

/** The source through a network that the test switches. */
function switchedSource(inner: RecordSource, sw: { down: boolean }): RecordSource {
  const gate = <T>(fn: () => Promise<T>) => (sw.down ? Promise.reject(new TransientSourceError(`Reading stream '${inner.streamName}' failed (ECONNREFUSED)`)) : fn());
  return {
    streamName: inner.streamName,
    listShards: (signal) => gate(() => inner.listShards(signal)),
    getIterator: (id, p, signal) => gate(() => inner.getIterator(id, p, signal)),
    getRecords: (it, limit, signal) => gate(() => inner.getRecords(it, limit, signal)),
  };
}

function world(shards = 2) {
  const clock = new FakeClock({ wallMs: Date.UTC(2026, 0, 1) });
  const scripted = new ScriptedSource("orders", shards, clock);
  const store = new MemoryStore("outage", () => clock.wallMs());
  const sw: StoreSwitch = { down: false, lostAnswers: false, denied: false };
  const src = { down: false };
  const events: { unavailable: UnavailableEvent[]; recovered: string[]; roundsFailed: number; left: string[] } = { unavailable: [], recovered: [], roundsFailed: 0, left: [] };
  const hooks: SupervisorEvents = {
    shardLeftBatch: (shardId, reason) => events.left.push(`${shardId}: ${reason}`),
    unavailable: (e) => events.unavailable.push(e),
    recovered: (site) => events.recovered.push(site),
    leaseRoundFailed: () => events.roundsFailed++,
  };
  let n = 0;
  const sequence: string[] = [];
  const put = (count: number) => {
    const out: string[] = [];
    for (let i = 0; i < count; i++, n++) {
      const d = `key-${n % 11}:${n}`;
      sequence.push(scripted.put(d.split(":")[0]!, enc.encode(d)).sequenceNumber);
      out.push(d);
    }
    return out;
  };
  const worker = (name: string, budgetMs: number) => {
    const view = switchedStore(store, sw);
    return new Supervisor(switchedSource(scripted, src), new ShardStateStore(view, "states/"), clock, new LogHandler(view, name), {
      appName: "test",
      batch: { maxRecords: 50, maxAgeMs: 500 },
      reader: { idleDelayMs: 100 },
      lease: { workerId: name, leaseDurationMs: 10_000 },
      outageBudgetMs: budgetMs,
      random: () => 0.5,
    }, hooks);
  };
  const committed = async () => (await readLog(store)).reduce((k, e) => k + e.records.length, 0);
  /** Passes fake time until `check` holds, or fails after `limitMs`. */
  const until = async (what: string, check: () => Promise<boolean> | boolean, limitMs = 10 * MIN) => {
    const deadline = clock.monoMs() + limitMs;
    while (!(await check())) {
      if (clock.monoMs() >= deadline) throw new Error(`waited ${limitMs} ms of fake time for ${what}`);
      await clock.tickAsync(100);
    }
  };
  return { clock, store, sw, src, events, put, sequence, worker, committed, until };
}

describe("outages are waited out within the budget", () => {
  test("S3 refusing every call for 3 minutes mid-run: the run goes on after it, nothing lost or doubled", async () => {
    const w = world();
    const sub = w.worker("w1", 15 * MIN);
    const ctl = new AbortController();
    const run = sub.run(ctl.signal);
    let failed: unknown;
    run.catch((e) => (failed = e));
    const expected = w.put(100);
    await w.until("first records", async () => (await w.committed()) >= 100);
    w.sw.down = true;
    expected.push(...w.put(100));
    await w.clock.tickAsync(3 * MIN);
    assert.equal(failed, undefined, "the run is still going after 3 minutes of outage");
    w.sw.down = false;
    await w.until("the records put during the outage", async () => (await w.committed()) >= 200);
    await w.clock.tickAsync(10_000); // a lease round or two more
    ctl.abort();
    await w.clock.settle(run);
    checkExactlyOnce(await readLog(w.store), expected);
    const sites = new Set(w.events.unavailable.map((e) => e.site));
    assert.ok(sites.has("lease-round"), `lease rounds met the outage: ${[...sites]}`);
    assert.ok(sites.has("commit") || sites.has("shard-state"), `a commit met the outage: ${[...sites]}`);
    assert.ok(w.events.unavailable.every((e) => e.dependency === "store"), "every failure is put on the store");
    assert.ok(w.events.recovered.includes("lease-round"), `the end of the outage is reported: ${w.events.recovered}`);
  });

  test("writes applied but answered with a reset: retried as the same change, the shard never stalls", async () => {
    const w = world(1);
    const sub = w.worker("w1", 15 * MIN);
    const ctl = new AbortController();
    const run = sub.run(ctl.signal);
    const expected = w.put(60);
    await w.until("first records", async () => (await w.committed()) >= 60);
    // Every write (intents, table commits, advances, renewals) is applied, then its answer lost.
    w.sw.lostAnswers = true;
    expected.push(...w.put(60));
    await w.clock.tickAsync(20_000);
    w.sw.lostAnswers = false;
    expected.push(...w.put(60));
    await w.until("every record, the shard not stalled by its own intent", async () => (await w.committed()) >= 180, 2 * MIN);
    ctl.abort();
    await w.clock.settle(run);
    checkExactlyOnce(await readLog(w.store), expected);
    assert.deepEqual(w.events.left, [], "an intent written by an attempt whose answer was lost is recognised as this batch's own");
  });

  test("a shard whose state holds an intent its reader does not know of is given up and replayed, not stalled", async () => {
    const w = world(1);
    const sub = w.worker("w1", 15 * MIN);
    const ctl = new AbortController();
    const run = sub.run(ctl.signal);
    const expected = w.put(60);
    await w.until("first records", async () => (await w.committed()) >= 60);
    expected.push(...w.put(60));
    // Before the reader's next batch, the state gets an intent for records 60 to 89 (as a
    // lost write of an earlier attempt, with other contents, would leave it).
    const states = new ShardStateStore(w.store, "states/");
    const shard = "shardId-000000000000";
    const v = (await states.read(shard))!;
    const pos = (i: number) => ({ sequenceNumber: w.sequence[i]!, subSequenceNumber: 0 });
    const intent = { batch: v.state.batch + 1, first: pos(60), last: pos(89), records: 30, ends: false, at: w.clock.wallMs(), epoch: v.state.lease.epoch ?? 0 };
    assert.ok(await states.write({ ...v.state, intent }, v.etag, w.clock.wallMs()));
    await w.until("every record", async () => (await w.committed()) >= 120, 2 * MIN);
    ctl.abort();
    await w.clock.settle(run);
    checkExactlyOnce(await readLog(w.store), expected);
    assert.equal(w.events.left.length, 1, `the shard left one batch: ${w.events.left}`);
    assert.match(w.events.left[0]!, /has an intent \(batch \d+\) not yet committed/);
  });

  test("Kinesis refusing every call for 4 minutes: reads resume where they were", async () => {
    const w = world();
    const sub = w.worker("w1", 15 * MIN);
    const ctl = new AbortController();
    const run = sub.run(ctl.signal);
    let failed: unknown;
    run.catch((e) => (failed = e));
    const expected = w.put(80);
    await w.until("first records", async () => (await w.committed()) >= 80);
    w.src.down = true;
    expected.push(...w.put(80));
    await w.clock.tickAsync(4 * MIN);
    assert.equal(failed, undefined);
    w.src.down = false;
    await w.until("the rest", async () => (await w.committed()) >= 160);
    ctl.abort();
    await w.clock.settle(run);
    checkExactlyOnce(await readLog(w.store), expected);
  });
});

describe("past the budget, or on an access error, the run ends and loses nothing", () => {
  test("S3 down longer than the budget: OutageError on the store; a later start commits everything once", async () => {
    const w = world();
    const sub = w.worker("w1", 2 * MIN);
    const expected = w.put(100);
    const run = sub.run(new AbortController().signal);
    await w.until("first records", async () => (await w.committed()) >= 50);
    w.sw.down = true;
    expected.push(...w.put(100));
    const startedAt = w.clock.monoMs();
    const err = await w.clock.settle(run.then(() => undefined, (e: unknown) => e));
    const after = w.clock.monoMs() - startedAt;
    assert.ok(err instanceof OutageError, `an OutageError: ${err}`);
    assert.equal(err.dependency, "store");
    assert.ok(after >= 2 * MIN && after <= 4 * MIN, `gave up after ${after} ms, the budget being 2 minutes`);
    assert.match(err.message, /past the outage budget \(OUTAGE_BUDGET\).*ECONNREFUSED.*Nothing is lost/);

    w.sw.down = false;
    await w.clock.tickAsync(11_000); // the dead worker's leases expire
    const next = w.worker("w2", 2 * MIN);
    const ctl = new AbortController();
    const run2 = next.run(ctl.signal);
    await w.until("everything", async () => (await w.committed()) >= 200);
    ctl.abort();
    await w.clock.settle(run2);
    checkExactlyOnce(await readLog(w.store), expected);
  });

  test("Kinesis down longer than the budget: OutageError on the source", async () => {
    const w = world(1);
    const sub = w.worker("w1", MIN);
    w.put(10);
    const run = sub.run(new AbortController().signal);
    await w.until("first records", async () => (await w.committed()) >= 10);
    w.src.down = true;
    const err = await w.clock.settle(run.then(() => undefined, (e: unknown) => e));
    assert.ok(err instanceof OutageError, `an OutageError: ${err}`);
    assert.equal(err.dependency, "source");
  });

  test("access denied ends the run at once, as an access failure (exit 5)", async () => {
    const w = world();
    const sub = w.worker("w1", 15 * MIN);
    w.put(10);
    w.sw.denied = true;
    const startedAt = w.clock.monoMs();
    const err = await w.clock.settle(sub.run(new AbortController().signal).then(() => undefined, (e: unknown) => e));
    assert.ok(err instanceof StoreAccessError, `the access error itself: ${err}`);
    assert.equal(failureKind(err), "access");
    assert.ok(w.clock.monoMs() - startedAt < 5_000, "not retried for the outage budget");
  });
});
