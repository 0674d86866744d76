import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../../adapters/memory/fake_clock.ts";
import { ScriptedSource } from "../../adapters/memory/scripted_source.ts";
import {
  ExpiredIteratorError,
  FatalSourceError,
  type IteratorPosition,
  type RecordSource,
  type SourceError,
  ThrottledError,
  TransientSourceError,
  TrimmedError,
} from "../../ports/record_source.ts";
import { seededRandom } from "../../util/seeded_random.ts";
import type { UserRecord } from "../kinesis/records.ts";
import { belongsToShard } from "../kinesis/deaggregate.ts";
import { aggregateRecords } from "../../../tests/helpers/kpl.ts";
import { type ShardChunk, ShardReader } from "./shard_reader.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const MiB = 1024 * 1024;

/** Reads a shard to its tip on a fake clock (the reader's pauses cost no time). */
async function readAll(source: ScriptedSource, shardId: string, range: Parameters<ShardReader["read"]>[0]): Promise<{ records: UserRecord[]; chunks: ShardChunk[] }> {
  const clock = new FakeClock();
  const chunks: ShardChunk[] = [];
  const reader = new ShardReader(source, shardId, clock);
  const ctl = new AbortController();
  await clock.settle(reader.read({ ...range, stopAtTip: true }, (c) => (chunks.push(c), Promise.resolve()), ctl.signal));
  return { records: chunks.flatMap((c) => c.records), chunks };
}

/** A source that records when each GetRecords call was made and each iterator asked for. */
function timed(source: ScriptedSource, clock: FakeClock) {
  const calls: number[] = [];
  const iterators: IteratorPosition[] = [];
  const wrapped: RecordSource = {
    streamName: source.streamName,
    listShards: () => source.listShards(),
    getIterator: (id, position) => (iterators.push(position), source.getIterator(id, position)),
    getRecords: (it, limit) => (calls.push(clock.monoMs()), source.getRecords(it, limit)),
  };
  return { wrapped, calls, iterators };
}

const gaps = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]!);

test("aggregated records are split into user records with sub-sequence numbers, plain ones pass through", async () => {
  const source = new ScriptedSource("s", 1);
  source.put("plain", enc.encode("p0"));
  const agg = aggregateRecords(["a", "b", "c"].map((k) => ({ partitionKey: k, data: enc.encode(`agg-${k}`) })));
  const { sequenceNumber } = source.put("a", agg);
  source.put("plain", enc.encode("p1"));
  const [shard] = source.openShards();
  const { records } = await readAll(source, shard!, { initial: { type: "TRIM_HORIZON" } });
  assert.deepEqual(records.map((r) => dec.decode(r.data)), ["p0", "agg-a", "agg-b", "agg-c", "p1"]);
  assert.deepEqual(records.filter((r) => r.aggregated).map((r) => [r.sequenceNumber, r.subSequenceNumber]), [[sequenceNumber, 0], [sequenceNumber, 1], [sequenceNumber, 2]]);
});

test("resuming after a sub-record continues with the next sub-record of the same aggregated record", async () => {
  const source = new ScriptedSource("s", 1);
  const agg = aggregateRecords(["a", "b", "c", "d"].map((k) => ({ partitionKey: k, data: enc.encode(k) })));
  const { sequenceNumber } = source.put("a", agg);
  source.put("z", enc.encode("after"));
  const [shard] = source.openShards();
  const { records } = await readAll(source, shard!, { after: { sequenceNumber, subSequenceNumber: 1 }, initial: { type: "TRIM_HORIZON" } });
  assert.deepEqual(records.map((r) => dec.decode(r.data)), ["c", "d", "after"]);
});

test("a replay range stops at its last user record, inside an aggregated record", async () => {
  const source = new ScriptedSource("s", 1);
  const agg = aggregateRecords(["a", "b", "c", "d"].map((k) => ({ partitionKey: k, data: enc.encode(k) })));
  const { sequenceNumber } = source.put("a", agg);
  source.put("z", enc.encode("after"));
  const [shard] = source.openShards();
  const { records } = await readAll(source, shard!, { after: { sequenceNumber, subSequenceNumber: 0 }, initial: { type: "TRIM_HORIZON" }, until: { sequenceNumber, subSequenceNumber: 2 } });
  assert.deepEqual(records.map((r) => dec.decode(r.data)), ["b", "c"]);
});

test("sub-records aggregated across a reshard boundary are delivered, those outside the shard's range marked", async () => {
  const source = new ScriptedSource("s", 2);
  const shards = await source.listShards();
  const [left, right] = shards;
  // An aggregated record put to the left shard, holding keys of both halves (as a KPL with a stale shard map does).
  const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
  const agg = aggregateRecords(keys.map((k) => ({ partitionKey: k, data: enc.encode(k) })));
  source.put("x", agg, "0");
  const { records } = await readAll(source, left!.shardId, { initial: { type: "TRIM_HORIZON" }, hashKeyRange: left!.hashKeyRange });
  assert.equal(records.length, 20, "every sub-record is delivered");
  const outside = records.filter((r) => r.outsideShard).map((r) => r.partitionKey);
  const expected = keys.filter((k) => belongsToShard({ partitionKey: k }, right!.hashKeyRange));
  assert.ok(expected.length > 0 && expected.length < 20, "the keys straddle the boundary");
  assert.deepEqual(outside, expected);
});

test("a closed shard's reader ends with its children after the last record", async () => {
  const source = new ScriptedSource("s", 1);
  const [parent] = source.openShards();
  source.put("k", enc.encode("before"));
  const children = source.split(parent!);
  const { records, chunks } = await readAll(source, parent!, { initial: { type: "TRIM_HORIZON" } });
  assert.deepEqual(records.map((r) => dec.decode(r.data)), ["before"]);
  assert.equal(chunks.at(-1)!.ended, true);
  assert.deepEqual(chunks.at(-1)!.childShards!.map((c) => c.shardId).sort(), [...children].sort());
});

test("run-once reads to the tip even when MillisBehindLatest says 0 with records left", async () => {
  const source = new ScriptedSource("s", 1);
  for (let i = 0; i < 25; i++) source.put("k", enc.encode(`r${i}`));
  const [shard] = source.openShards();
  // kinesis-local (and Kinesis, for records of one millisecond) can answer 0 while more records follow.
  const zeroLag: RecordSource = {
    streamName: source.streamName,
    listShards: () => source.listShards(),
    getIterator: (id, position) => source.getIterator(id, position),
    getRecords: async (it, limit) => ({ ...(await source.getRecords(it, limit)), millisBehindLatest: 0 }),
  };
  const chunks: ShardChunk[] = [];
  const clock = new FakeClock();
  const reader = new ShardReader(zeroLag, shard!, clock, { maxRecordsPerCall: 10 });
  const outcome = await clock.settle(reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => (chunks.push(c), Promise.resolve()), new AbortController().signal));
  assert.equal(outcome, "tip");
  assert.equal(chunks.flatMap((c) => c.records).length, 25);
});

test("the reader makes at most 5 GetRecords calls a second: one every 200 ms", async () => {
  const clock = new FakeClock();
  const source = new ScriptedSource("s", 1, clock);
  for (let i = 0; i < 100; i++) source.put("k", enc.encode(`r${String(i).padStart(3, "0")}`));
  const [shard] = source.openShards();
  const { wrapped, calls } = timed(source, clock);
  const reader = new ShardReader(wrapped, shard!, clock, { maxRecordsPerCall: 10 });
  let records = 0;
  const outcome = await clock.settle(reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => ((records += c.records.length), Promise.resolve()), new AbortController().signal));
  assert.equal(outcome, "tip");
  assert.equal(records, 100);
  // Ten calls of ten records, then the empty call at the tip.
  assert.deepEqual(calls, [0, 200, 400, 600, 800, 1_000, 1_200, 1_400, 1_600, 1_800, 2_000]);
});

test("the reader keeps to 2 MiB a second: a response of B bytes holds the next call back B / 2 MiB seconds", async () => {
  const clock = new FakeClock();
  const source = new ScriptedSource("s", 1, clock);
  // 40 records of 256 KiB: 10 MiB, which at 2 MiB/s takes 5 s whatever the call rate.
  for (let i = 0; i < 40; i++) source.put("k", new Uint8Array(256 * 1024));
  const [shard] = source.openShards();
  const { wrapped, calls } = timed(source, clock);
  const reader = new ShardReader(wrapped, shard!, clock, { maxRecordsPerCall: 2 });
  let bytes = 0;
  await clock.settle(reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => ((bytes += c.bytes), Promise.resolve()), new AbortController().signal));
  assert.equal(bytes, 10 * MiB);
  assert.equal(calls.length, 21, "20 calls of 512 KiB and the empty one at the tip");
  assert.deepEqual(gaps(calls), new Array(20).fill(250), "512 KiB at 2 MiB/s: 250 ms, longer than the 200 ms of the call limit");
  assert.equal(calls.at(-1), 5_000);
});

test("the call limit and the byte limit hold together: no 6 calls and no more than 2 MiB within any second", async () => {
  const clock = new FakeClock();
  const source = new ScriptedSource("s", 1, clock);
  const sizes = Array.from({ length: 60 }, (_, i) => (i % 7 === 0 ? 900 * 1024 : 1_000));
  for (const size of sizes) source.put("k", new Uint8Array(size));
  const [shard] = source.openShards();
  const { wrapped, calls } = timed(source, clock);
  const reader = new ShardReader(wrapped, shard!, clock, { maxRecordsPerCall: 3 });
  const served: { at: number; bytes: number }[] = [];
  await clock.settle(reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => (served.push({ at: clock.monoMs(), bytes: c.bytes }), Promise.resolve()), new AbortController().signal));
  assert.equal(served.reduce((n, s) => n + s.bytes, 0), sizes.reduce((a, b) => a + b, 0));
  for (let i = 5; i < calls.length; i++) assert.ok(calls[i]! - calls[i - 5]! >= 1_000, `6 calls within a second at call ${i}`);
  // Bytes served before a call are paid for by the time it is made: over any window that
  // starts at a call, what the calls in it return (but the last) is within 2 MiB/s.
  for (let i = 0; i < served.length; i++) {
    for (let j = i + 1; j < served.length; j++) {
      const bytes = served.slice(i, j).reduce((n, s) => n + s.bytes, 0);
      const seconds = (served[j]!.at - served[i]!.at) / 1_000;
      assert.ok(bytes <= 2 * MiB * seconds + 1e-6, `${bytes} bytes in ${seconds} s from response ${i} to ${j}`);
    }
  }
});

test("throttles and server errors back off from 1 s, doubling to 10 s, and the reader carries on", async () => {
  const clock = new FakeClock();
  const source = new ScriptedSource("s", 1, clock);
  for (let i = 0; i < 5; i++) source.put("k", enc.encode(`r${i}`));
  const [shard] = source.openShards();
  source.inject(shard!, "throttle", "throttle", "error", "throttle", "throttle");
  const { wrapped, calls } = timed(source, clock);
  const retried: SourceError[] = [];
  // r = 0.5 puts the jitter at the middle: the pauses are the policy's own.
  const reader = new ShardReader(wrapped, shard!, clock, { random: () => 0.5, onRetry: (_, err) => retried.push(err) });
  const records: UserRecord[] = [];
  await clock.settle(reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => (records.push(...c.records), Promise.resolve()), new AbortController().signal));
  assert.equal(records.length, 5);
  assert.deepEqual(gaps(calls).slice(0, 5), [1_000, 2_000, 4_000, 8_000, 10_000]);
  assert.deepEqual(retried.map((e) => e.constructor), [ThrottledError, ThrottledError, TransientSourceError, ThrottledError, ThrottledError]);
});

test("the backoff's jitter is drawn from the random source it is given", async () => {
  const clock = new FakeClock();
  const source = new ScriptedSource("s", 1, clock);
  source.put("k", enc.encode("r"));
  const [shard] = source.openShards();
  source.inject(shard!, "throttle", "throttle", "throttle", "throttle", "throttle", "throttle");
  const { wrapped, calls } = timed(source, clock);
  const reader = new ShardReader(wrapped, shard!, clock, { random: seededRandom(11) });
  await clock.settle(reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, () => Promise.resolve(), new AbortController().signal));
  const draws = seededRandom(11);
  const expected = [1_000, 2_000, 4_000, 8_000, 10_000, 10_000].map((d) => d * (0.5 + draws()));
  const actual = gaps(calls).slice(0, 6);
  actual.forEach((g, i) => {
    assert.ok(Math.abs(g - expected[i]!) < 1e-6, `pause ${i + 1}: ${g} ms, expected ${expected[i]} ms`);
    assert.ok(g >= [1_000, 2_000, 4_000, 8_000, 10_000, 10_000][i]! * 0.5 && g < [1_000, 2_000, 4_000, 8_000, 10_000, 10_000][i]! * 1.5);
  });
});

test("a successful call starts the backoff again from its first pause", async () => {
  const clock = new FakeClock();
  const source = new ScriptedSource("s", 1, clock);
  source.put("k", enc.encode("r"));
  const [shard] = source.openShards();
  // An empty response is a success: the throttle after it pauses 1 s again, not 4 s.
  source.inject(shard!, "throttle", "throttle", "empty", "throttle");
  const { wrapped, calls } = timed(source, clock);
  const reader = new ShardReader(wrapped, shard!, clock, { random: () => 0.5 });
  await clock.settle(reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, () => Promise.resolve(), new AbortController().signal));
  assert.deepEqual(calls.slice(0, 5), [0, 1_000, 3_000, 3_200, 4_200]);
});

test("an expired iterator is acquired again at once from the last record delivered", async () => {
  const clock = new FakeClock();
  const source = new ScriptedSource("s", 1, clock);
  for (let i = 0; i < 30; i++) source.put("k", enc.encode(`r${i}`));
  const [shard] = source.openShards();
  const { wrapped, calls, iterators } = timed(source, clock);
  const retried: SourceError[] = [];
  const reader = new ShardReader(wrapped, shard!, clock, { maxRecordsPerCall: 10, onRetry: (_, err) => retried.push(err) });
  const records: UserRecord[] = [];
  await clock.settle(reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => {
    if (records.length === 0) source.inject(shard!, "expire");
    records.push(...c.records);
    return Promise.resolve();
  }, new AbortController().signal));
  assert.deepEqual(records.map((r) => dec.decode(r.data)), Array.from({ length: 30 }, (_, i) => `r${i}`), "each record once, in order");
  assert.deepEqual(retried.map((e) => e.constructor), [ExpiredIteratorError]);
  assert.deepEqual(iterators, [{ type: "TRIM_HORIZON" }, { type: "AT_SEQUENCE_NUMBER", sequenceNumber: records[9]!.sequenceNumber }]);
  assert.deepEqual(calls.slice(0, 3), [0, 200, 200], "the expired call is made again at once");
});

test("an iterator left unused for over 5 minutes (a slow consumer) is replaced without losing or repeating records", async () => {
  const clock = new FakeClock();
  const source = new ScriptedSource("s", 1, clock);
  for (let i = 0; i < 20; i++) source.put("k", enc.encode(`r${i}`));
  const [shard] = source.openShards();
  const { wrapped, calls } = timed(source, clock);
  const reader = new ShardReader(wrapped, shard!, clock, { maxRecordsPerCall: 10 });
  const records: UserRecord[] = [];
  await clock.settle(reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, async (c) => {
    records.push(...c.records);
    if (records.length === 10) await clock.sleep(6 * 60_000);
  }, new AbortController().signal));
  assert.deepEqual(records.map((r) => dec.decode(r.data)), Array.from({ length: 20 }, (_, i) => `r${i}`));
  // After the pause (plus the 10 bytes' share of the byte limit) the call expires; the next is made at once.
  assert.ok(calls[1]! >= 360_000 && calls[1]! < 360_001, `${calls[1]}`);
  assert.equal(calls[2], calls[1], "acquired again and called at once");
});

test("a fatal error ends the read at once, without retries", async () => {
  const clock = new FakeClock();
  const source = new ScriptedSource("s", 1, clock);
  const retried: SourceError[] = [];
  const reader = new ShardReader(source, "shardId-999999999999", clock, { onRetry: (_, err) => retried.push(err) });
  await assert.rejects(clock.settle(reader.read({ initial: { type: "TRIM_HORIZON" } }, () => Promise.resolve(), new AbortController().signal)), FatalSourceError);
  assert.equal(retried.length, 0);
  assert.equal(clock.monoMs(), 0);
});

test("aborting during a backoff ends the read as aborted, with no further call", async () => {
  const clock = new FakeClock();
  const source = new ScriptedSource("s", 1, clock);
  source.put("k", enc.encode("r"));
  const [shard] = source.openShards();
  source.inject(shard!, "throttle", "throttle", "throttle");
  const { wrapped, calls } = timed(source, clock);
  const reader = new ShardReader(wrapped, shard!, clock, { random: () => 0.5 });
  const ctl = new AbortController();
  const reading = reader.read({ initial: { type: "TRIM_HORIZON" } }, () => Promise.resolve(), ctl.signal);
  await clock.tickAsync(1_500);
  assert.deepEqual(calls, [0, 1_000]);
  assert.equal(clock.pendingTimers, 1, "pausing 2 s after the second throttle");
  ctl.abort();
  assert.equal(await reading, "aborted");
  assert.equal(clock.pendingTimers, 0);
  assert.deepEqual(calls, [0, 1_000]);
});

test("at the tip the reader waits the idle delay between calls", async () => {
  const clock = new FakeClock();
  const source = new ScriptedSource("s", 1, clock);
  const [shard] = source.openShards();
  const { wrapped, calls } = timed(source, clock);
  const reader = new ShardReader(wrapped, shard!, clock, { idleDelayMs: 700 });
  const ctl = new AbortController();
  const got: string[] = [];
  const reading = reader.read({ initial: { type: "TRIM_HORIZON" } }, (c) => (got.push(...c.records.map((r) => dec.decode(r.data))), Promise.resolve()), ctl.signal);
  await clock.tickAsync(2_000);
  assert.deepEqual(calls, [0, 700, 1_400]);
  source.put("k", enc.encode("late"));
  await clock.tickAsync(700);
  assert.deepEqual(got, ["late"]);
  ctl.abort();
  assert.equal(await reading, "aborted");
});

/** A shard of `n` records put one minute apart on `clock`: record i arrived at minute i. */
function minutes(clock: FakeClock, n: number): { source: ScriptedSource; shard: string; seqs: string[] } {
  const source = new ScriptedSource("s", 1, clock);
  const seqs: string[] = [];
  for (let i = 0; i < n; i++) {
    seqs.push(source.put("k", enc.encode(`r${i}`)).sequenceNumber);
    clock.tick(60_000);
  }
  return { source, shard: source.openShards()[0]!, seqs };
}

const at = (seq: string, sub = 0) => ({ sequenceNumber: seq, subSequenceNumber: sub });

test("resuming at a record the retention trimmed fails with TrimmedError naming the shard, the record asked for and the first one left", async () => {
  const clock = new FakeClock();
  const t0 = clock.wallMs();
  const { source, shard, seqs } = minutes(clock, 10);
  source.trimBefore(t0 + 5 * 60_000); // r0..r4 are gone; r3 was the last record committed
  const got: UserRecord[] = [];
  const reader = new ShardReader(source, shard, clock);
  const err = await clock.settle(reader.read({ after: at(seqs[3]!), initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => (got.push(...c.records), Promise.resolve()), new AbortController().signal))
    .then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof TrimmedError, `a TrimmedError, not ${String(err)}`);
  assert.equal(err.shardId, shard);
  assert.deepEqual(err.asked, at(seqs[3]!));
  assert.equal(err.firstAvailable, seqs[5], "the trim horizon: r5");
  assert.match(err.message, new RegExp(`${shard}.*${seqs[3]}.*${seqs[5]}`));
  assert.deepEqual(got, [], "r4 is lost: nothing past the gap is delivered");
});

test("a resume position that is still there reads on as before, even behind empty responses", async () => {
  const clock = new FakeClock();
  const t0 = clock.wallMs();
  const { source, shard, seqs } = minutes(clock, 10);
  source.trimBefore(t0 + 3 * 60_000); // r0..r2 gone; r3 (the position) kept
  source.inject(shard, "empty", "empty");
  const got: string[] = [];
  const reader = new ShardReader(source, shard, clock);
  await clock.settle(reader.read({ after: at(seqs[3]!), initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => (got.push(...c.records.map((r) => dec.decode(r.data))), Promise.resolve()), new AbortController().signal));
  assert.deepEqual(got, ["r4", "r5", "r6", "r7", "r8", "r9"]);
});

test("empty responses do not hide a trimmed position: the first record that comes decides", async () => {
  const clock = new FakeClock();
  const t0 = clock.wallMs();
  const { source, shard, seqs } = minutes(clock, 6);
  source.trimBefore(t0 + 2 * 60_000);
  source.inject(shard, "empty", "empty", "empty");
  const reader = new ShardReader(source, shard, clock);
  await assert.rejects(
    clock.settle(reader.read({ after: at(seqs[0]!), initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, () => Promise.resolve(), new AbortController().signal)),
    (e: unknown) => e instanceof TrimmedError && e.firstAvailable === seqs[2],
  );
});

test("an open shard whose every record was trimmed, and none came since, is a gap: found at the tip, not hidden until the next record arrives", async () => {
  for (const stopAtTip of [true, false]) {
    const clock = new FakeClock();
    const t0 = clock.wallMs();
    const { source, shard, seqs } = minutes(clock, 6);
    source.trimBefore(t0 + 60 * 60_000); // r0..r5 all gone; r3 was the last record committed
    const calls = timed(source, clock);
    const reader = new ShardReader(calls.wrapped, shard, clock);
    const err = await clock.settle(reader.read({ after: at(seqs[3]!), initial: { type: "TRIM_HORIZON" }, stopAtTip }, () => Promise.resolve(), new AbortController().signal))
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof TrimmedError, `${stopAtTip ? "run-once" : "a running reader"}: a TrimmedError, not ${String(err)}`);
    assert.deepEqual(err.asked, at(seqs[3]!));
    assert.equal(err.firstAvailable, null, "the shard has nothing left");
    assert.equal(calls.iterators.length, 2, "asked again with a fresh iterator before concluding");
  }
});

test("a resume position that is the shard's last record is still the tip, behind an empty response", async () => {
  const clock = new FakeClock();
  const { source, shard, seqs } = minutes(clock, 4);
  source.inject(shard, "empty");
  const got: UserRecord[] = [];
  const reader = new ShardReader(source, shard, clock);
  const outcome = await clock.settle(reader.read({ after: at(seqs[3]!), initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => (got.push(...c.records), Promise.resolve()), new AbortController().signal));
  assert.equal(outcome, "tip");
  assert.deepEqual(got, []);
});

test("a replayed range must start with its first record: one the retention trimmed fails, one still there is read exactly", async () => {
  const clock = new FakeClock();
  const t0 = clock.wallMs();
  const { source, shard, seqs } = minutes(clock, 10);
  const range = (first: number, last: number) => ({ after: at(seqs[first]!, -1), first: at(seqs[first]!), until: at(seqs[last]!), initial: { type: "TRIM_HORIZON" } as const });
  source.trimBefore(t0 + 4 * 60_000);
  const intact = await readAll(source, shard, range(4, 7));
  assert.deepEqual(intact.records.map((r) => dec.decode(r.data)), ["r4", "r5", "r6", "r7"]);
  const reader = new ShardReader(source, shard, clock);
  const got: UserRecord[] = [];
  const err = await clock.settle(reader.read(range(2, 6), (c) => (got.push(...c.records), Promise.resolve()), new AbortController().signal)).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof TrimmedError);
  assert.deepEqual(err.asked, at(seqs[2]!), "the range's first record is named");
  assert.equal(err.firstAvailable, seqs[4]);
  assert.deepEqual(got, [], "no part of the range is delivered");
});

test("an iterator acquired again after expiry must still find the last record delivered", async () => {
  const clock = new FakeClock();
  const t0 = clock.wallMs();
  const { source, shard, seqs } = minutes(clock, 20);
  const reader = new ShardReader(source, shard, clock, { maxRecordsPerCall: 5 });
  const got: string[] = [];
  const err = await clock.settle(reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => {
    got.push(...c.records.map((r) => dec.decode(r.data)));
    if (got.length === 5) {
      // While these five wait in a batch, the retention trims past them and the iterator expires.
      source.trimBefore(t0 + 8 * 60_000);
      source.inject(shard, "expire");
    }
    return Promise.resolve();
  }, new AbortController().signal)).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof TrimmedError);
  assert.deepEqual(err.asked, at(seqs[4]!), "the last record delivered");
  assert.equal(err.firstAvailable, seqs[8]);
  assert.deepEqual(got, ["r0", "r1", "r2", "r3", "r4"], "r5..r7 are never skipped over silently");
});
