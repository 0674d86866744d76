import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "../ports/clock.ts";
import type { UserRecord } from "../core/kinesis/records.ts";
import { MicroBatcher } from "./micro_batcher.ts";

const rec = (i: number, size = 10): UserRecord => ({ data: new Uint8Array(size), partitionKey: "k", sequenceNumber: String(i), subSequenceNumber: 0, aggregated: false });
const chunk = (shardId: string, from: number, n: number, size = 10, ended = false) => ({
  shardId, records: Array.from({ length: n }, (_, i) => rec(from + i, size)), bytes: n * size, millisBehindLatest: 5, ended,
});

test("a batch is flushed at max records, never larger, shards taking turns", async () => {
  const b = new MicroBatcher(systemClock, { maxRecords: 10, maxAgeMs: 60_000, maxBufferedRecords: 1000 });
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
  const bytes = new MicroBatcher(systemClock, { maxRecords: 1000, maxBytes: 100, maxAgeMs: 60_000, maxBufferedBytes: 10_000 });
  await bytes.push(chunk("a", 0, 5, 30));
  assert.equal((await bytes.next(signal))!.trigger, "bytes");
  const age = new MicroBatcher(systemClock, { maxRecords: 1000, maxAgeMs: 30 });
  await age.push(chunk("a", 0, 1));
  const started = performance.now();
  const aged = (await age.next(signal))!;
  assert.equal(aged.trigger, "age");
  assert.ok(performance.now() - started >= 20);
  const end = new MicroBatcher(systemClock, { maxRecords: 1000, maxAgeMs: 60_000 });
  await end.push(chunk("a", 0, 2, 10, true));
  const ended = (await end.next(signal))!;
  assert.equal(ended.trigger, "end");
  assert.equal(ended.slices[0]!.ended, true);
});

test("push waits while the buffer is full, and resumes once a batch is taken", async () => {
  const b = new MicroBatcher(systemClock, { maxRecords: 5, maxAgeMs: 60_000, maxBufferedRecords: 6 });
  await b.push(chunk("a", 0, 5));
  let resolved = false;
  // The sixth record fills the buffer: the push that brought it waits for room.
  const pending = b.push(chunk("a", 5, 1)).then(() => (resolved = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(resolved, false, "backpressure: the reader waits");
  await b.next(new AbortController().signal);
  await pending;
  assert.equal(resolved, true);
  assert.equal(b.bufferedRecords, 1);
});

test("dropping a lost shard forgets its records; close frees waiting readers", async () => {
  const b = new MicroBatcher(systemClock, { maxRecords: 100, maxAgeMs: 60_000, maxBufferedRecords: 3 });
  await b.push(chunk("a", 0, 2));
  const waiting = b.push(chunk("b", 0, 2));
  b.drop("a");
  await waiting;
  assert.equal(b.bufferedRecords, 2);
  const stuck = b.push(chunk("c", 0, 5));
  b.close();
  await stuck;
});
