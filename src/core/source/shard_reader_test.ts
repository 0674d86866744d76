import assert from "node:assert/strict";
import { test } from "node:test";
import { ScriptedSource } from "../../adapters/memory/scripted_source.ts";
import { systemClock } from "../../ports/clock.ts";
import type { RecordSource } from "../../ports/record_source.ts";
import type { UserRecord } from "../kinesis/records.ts";
import { belongsToShard } from "../kinesis/deaggregate.ts";
import { aggregateRecords } from "../../../tests/helpers/kpl.ts";
import { type ShardChunk, ShardReader } from "./shard_reader.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const fast = { idleDelayMs: 1, backoffMs: 1, maxBackoffMs: 2, maxCallsPerSecond: 10_000 };

async function readAll(source: ScriptedSource, shardId: string, range: Parameters<ShardReader["read"]>[0]): Promise<{ records: UserRecord[]; chunks: ShardChunk[] }> {
  const chunks: ShardChunk[] = [];
  const reader = new ShardReader(source, shardId, systemClock, fast);
  const ctl = new AbortController();
  await reader.read({ ...range, stopAtTip: true }, (c) => (chunks.push(c), Promise.resolve()), ctl.signal);
  return { records: chunks.flatMap((c) => c.records), chunks };
}

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
  const reader = new ShardReader(zeroLag, shard!, systemClock, { ...fast, maxRecordsPerCall: 10 });
  const outcome = await reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => (chunks.push(c), Promise.resolve()), new AbortController().signal);
  assert.equal(outcome, "tip");
  assert.equal(chunks.flatMap((c) => c.records).length, 25);
});

/** A clock whose time moves only when someone sleeps: the reader's pacing, without waiting. */
function virtualClock() {
  let now = 0;
  return {
    wallMs: () => 1_700_000_000_000 + now,
    monoMs: () => now,
    sleep: (ms: number) => {
      now += Math.max(0, ms);
      return Promise.resolve();
    },
  };
}

test("the reader keeps to 5 GetRecords calls and 2 MiB per second per shard", async () => {
  const source = new ScriptedSource("s", 1);
  // 40 records of 256 KiB: 10 MiB, which at 2 MiB/s takes 5 s whatever the call rate.
  for (let i = 0; i < 40; i++) source.put("k", new Uint8Array(256 * 1024));
  const [shard] = source.openShards();
  const clock = virtualClock();
  const calls: number[] = [];
  const timed: typeof source.getRecords = (it, limit) => (calls.push(clock.monoMs()), source.getRecords(it, limit));
  const wrapped = { streamName: "s", listShards: () => source.listShards(), getIterator: source.getIterator.bind(source), getRecords: timed };
  const reader = new ShardReader(wrapped, shard!, clock, { maxRecordsPerCall: 2, idleDelayMs: 1 });
  let bytes = 0;
  await reader.read({ initial: { type: "TRIM_HORIZON" }, stopAtTip: true }, (c) => ((bytes += c.bytes), Promise.resolve()), new AbortController().signal);
  assert.equal(bytes, 40 * 256 * 1024);
  for (let i = 5; i < calls.length; i++) assert.ok(calls[i]! - calls[i - 5]! >= 1000 - 1e-6, `6 calls within a second at call ${i}`);
  const seconds = (calls.at(-1)! - calls[0]!) / 1000;
  assert.ok(seconds >= (10 - 2) / 2, `10 MiB read in ${seconds} s: at most 2 MiB/s after the first second`);
});
