import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../adapters/memory/fake_clock.ts";
import type { UserRecord } from "../core/kinesis/records.ts";
import { type Batch, MicroBatcher } from "./micro_batcher.ts";

const rec = (i: number, size = 10): UserRecord => ({ data: new Uint8Array(size), partitionKey: "k", sequenceNumber: String(i), subSequenceNumber: 0, aggregated: false });
const chunk = (shardId: string, from: number, n: number, size = 10, ended = false) => ({
  shardId, records: Array.from({ length: n }, (_, i) => rec(from + i, size)), bytes: n * size, millisBehindLatest: 5, ended,
});

test("a batch is flushed at max records, never larger, shards taking turns", async () => {
  const b = new MicroBatcher(new FakeClock(), { maxRecords: 10, maxAgeMs: 60_000, maxBufferedRecords: 1000 });
  await b.push(chunk("a", 0, 8));
  await b.push(chunk("b", 100, 8));
  const signal = new AbortController().signal;
  const first = (await b.next(signal))!;
  assert.equal(first.trigger, "records");
  assert.equal(first.records, 10);
  assert.deepEqual(first.slices.map((s) => [s.shardId, s.records.length]), [["a", 8], ["b", 2]]);
  await b.push(chunk("a", 8, 8));
  const second = (await b.next(signal))!;
  assert.deepEqual(second.slices.map((s) => [s.shardId, s.records.length]), [["b", 6], ["a", 4]], "the cut shard went to the back");
  assert.deepEqual(second.slices[0]!.records.map((r) => Number(r.sequenceNumber)), [102, 103, 104, 105, 106, 107], "in shard order");
});

test("a batch is flushed by bytes, by age, and at once when a shard ends", async () => {
  const signal = new AbortController().signal;
  const clock = new FakeClock();
  const bytes = new MicroBatcher(clock, { maxRecords: 1000, maxBytes: 100, maxAgeMs: 60_000, maxBufferedBytes: 10_000 });
  await bytes.push(chunk("a", 0, 5, 30));
  assert.equal((await bytes.next(signal))!.trigger, "bytes");
  const age = new MicroBatcher(clock, { maxRecords: 1000, maxAgeMs: 10_000 });
  await age.push(chunk("a", 0, 1));
  let aged: Batch | undefined;
  void age.next(signal).then((b) => (aged = b));
  await clock.tickAsync(9_999);
  assert.equal(aged as Batch | undefined, undefined, "not before the oldest record is 10 s old");
  await clock.tickAsync(1);
  assert.equal(aged?.trigger, "age");
  assert.equal(aged?.records, 1);
  const end = new MicroBatcher(clock, { maxRecords: 1000, maxAgeMs: 60_000 });
  await end.push(chunk("a", 0, 2, 10, true));
  const ended = (await end.next(signal))!;
  assert.equal(ended.trigger, "end");
  assert.equal(ended.slices[0]!.ended, true);
});

test("push waits while the buffer is full, and resumes once a batch is taken", async () => {
  const clock = new FakeClock();
  const b = new MicroBatcher(clock, { maxRecords: 5, maxAgeMs: 60_000, maxBufferedRecords: 6 });
  await b.push(chunk("a", 0, 5));
  let resolved = false;
  // The sixth record fills the buffer: the push that brought it waits for room.
  const pending = b.push(chunk("a", 5, 1)).then(() => (resolved = true));
  await clock.tickAsync(120_000);
  assert.equal(resolved, false, "backpressure: the reader waits, however long");
  await b.next(new AbortController().signal);
  await pending;
  assert.equal(resolved, true);
  assert.equal(b.bufferedRecords, 1);
});

test("dropping a lost shard forgets its records; close frees waiting readers", async () => {
  const b = new MicroBatcher(new FakeClock(), { maxRecords: 100, maxAgeMs: 60_000, maxBufferedRecords: 3 });
  await b.push(chunk("a", 0, 2));
  const waiting = b.push(chunk("b", 0, 2));
  b.drop("a");
  await waiting;
  assert.equal(b.bufferedRecords, 2);
  const stuck = b.push(chunk("c", 0, 5));
  b.close();
  await stuck;
});

test("the age counts from the first record pushed, not from when the taker started waiting", async () => {
  const clock = new FakeClock();
  const b = new MicroBatcher(clock, { maxRecords: 1000, maxAgeMs: 10_000 });
  let batch: Batch | undefined;
  void b.next(new AbortController().signal).then((x) => (batch = x));
  await clock.tickAsync(5_000);
  await b.push(chunk("a", 0, 1));
  await clock.tickAsync(6_000);
  await b.push(chunk("b", 0, 1));
  await clock.tickAsync(3_999);
  assert.equal(batch as Batch | undefined, undefined);
  await clock.tickAsync(1);
  assert.equal(batch?.trigger, "age");
  assert.equal(batch?.records, 2);
  assert.equal(clock.monoMs(), 15_000, "10 s after the first record, pushed at 5 s");
});

test("a flush returns what is buffered at once, even nothing; an abort returns undefined", async () => {
  const clock = new FakeClock();
  const b = new MicroBatcher(clock, { maxRecords: 1000, maxAgeMs: 10_000 });
  const ctl = new AbortController();
  const waiting = b.next(ctl.signal);
  await clock.tickAsync(1_000);
  b.flush();
  const empty = await waiting;
  assert.deepEqual([empty?.trigger, empty?.records, empty?.flushed], ["flush", 0, true]);
  await b.push(chunk("a", 0, 3));
  b.flush();
  const some = await b.next(ctl.signal);
  assert.deepEqual([some?.trigger, some?.records], ["flush", 3]);
  const aborted = b.next(ctl.signal);
  await clock.tickAsync(1_000);
  ctl.abort();
  assert.equal(await aborted, undefined);
  assert.equal(clock.pendingTimers, 0);
  assert.equal(clock.monoMs(), 2_000, "no time passed but what the test moved");
});

test("the caps count what records take decoded (their weight), not only their payload", async () => {
  const clock = new FakeClock();
  const b = new MicroBatcher(clock, { maxRecords: 1000, maxBytes: 1_000, maxAgeMs: 60_000, maxBufferedBytes: 1_000 });
  // 10 small records (100 payload bytes) that decode into 2,000 bytes' worth of rows.
  let pushed = false;
  void b.push({ ...chunk("a", 0, 10), weight: 2_000 }).then(() => (pushed = true));
  await clock.runMicrotasks();
  assert.equal(b.bufferedBytes, 100);
  assert.equal(b.bufferedWeight, 2_000);
  assert.equal(pushed, false, "the reader waits: the buffer is full by weight");
  const batch = (await b.next(new AbortController().signal))!;
  assert.equal(batch.trigger, "bytes", "flushed by accounted bytes");
  await clock.runMicrotasks();
  assert.equal(pushed, true, "room again once the batch was taken");
  assert.equal(b.bufferedWeight, 0);
});
