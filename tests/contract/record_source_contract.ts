import assert from "node:assert/strict";
import { test } from "node:test";
import { FatalSourceError, type IteratorPosition, type ReadResult, type RecordSource, type ShardDescription } from "../../src/ports/record_source.ts";
import { waitFor } from "../helpers/servers.ts";

/** A record to put: what a producer gives. */
export interface PutEntry {
  partitionKey: string;
  data: Uint8Array;
}

/** Where a record landed, as the stream answered the put. */
export interface PutResult {
  shardId: string;
  sequenceNumber: string;
}

/** A new stream behind a {@link RecordSource}, with the producer and admin calls the port does not have. */
export interface RecordSourceFixture {
  source: RecordSource;
  /** Puts records in one call; @returns where each landed, in the order given. */
  put(entries: readonly PutEntry[]): Promise<PutResult[]>;
  /**
   * Splits an open shard at the middle of its hash key range; returns once records put
   * afterwards go to the children. @returns the children, lower hash keys first.
   */
  split(shardId: string): Promise<[string, string]>;
  /**
   * Trims the records that arrived before `time`, as the stream's retention does. Absent
   * for a stream that cannot be made to trim in a test (kinesis-local: the retention is at
   * least 24 hours); the trim case is then skipped.
   */
  trimBefore?(time: Date): Promise<void>;
}

const MAX_HASH_KEY = 2n ** 128n - 1n;
const enc = new TextEncoder();

/** A record as compared here: the data as base64, so that Buffer and Uint8Array compare equal. */
interface Seen {
  partitionKey: string;
  data: string;
  sequenceNumber: string;
}

const b64 = (d: Uint8Array) => btoa(String.fromCharCode(...d));
const seen = (r: { partitionKey: string; data: Uint8Array; sequenceNumber: string }): Seen => ({ partitionKey: r.partitionKey, data: b64(r.data), sequenceNumber: r.sequenceNumber });

/** What was put, per shard, in sequence number order. */
function expectedByShard(entries: readonly PutEntry[], results: readonly PutResult[]): Map<string, Seen[]> {
  const out = new Map<string, Seen[]>();
  entries.forEach((e, i) => {
    const r = results[i]!;
    out.set(r.shardId, [...(out.get(r.shardId) ?? []), seen({ ...e, sequenceNumber: r.sequenceNumber })]);
  });
  for (const list of out.values()) list.sort((a, b) => (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1));
  return out;
}

function entries(prefix: string, n: number): PutEntry[] {
  return Array.from({ length: n }, (_, i) => ({ partitionKey: `${prefix}-${i}`, data: enc.encode(`${prefix}:${i}`) }));
}

interface Chain {
  records: Seen[];
  arrivals: (Date | undefined)[];
  responses: ReadResult[];
}

/**
 * Follows one iterator chain from `position` with GetRecords calls of `limit` records,
 * until the shard ends (no next iterator) or, once `expected` records have come, a call
 * answers with none (the tip of an open shard).
 */
async function readChain(source: RecordSource, shardId: string, position: IteratorPosition, expected: number, limit = 4): Promise<Chain> {
  return readFrom(source, await source.getIterator(shardId, position), expected, limit);
}

/** {@link readChain} from an iterator already taken. */
async function readFrom(source: RecordSource, iterator: string, expected: number, limit = 4): Promise<Chain> {
  const chain: Chain = { records: [], arrivals: [], responses: [] };
  let it: string | undefined = iterator;
  for (let calls = 0; calls < 200; calls++) {
    const res: ReadResult = await source.getRecords(it!, limit);
    chain.responses.push(res);
    assert.ok(res.records.length <= limit, `GetRecords with limit ${limit} answered ${res.records.length} records`);
    for (const r of res.records) {
      chain.records.push(seen(r));
      chain.arrivals.push(r.approximateArrivalTimestamp);
    }
    it = res.nextIterator;
    if (it === undefined) return chain;
    if (chain.records.length >= expected && res.records.length === 0) return chain;
  }
  throw new Error(`The chain neither ended nor reached the shard's tip within 200 GetRecords calls (${chain.records.length} of ${expected} records read)`);
}

function assertIncreasing(records: readonly Seen[], what: string): void {
  for (let i = 1; i < records.length; i++) {
    const a = records[i - 1]!.sequenceNumber, b = records[i]!.sequenceNumber;
    assert.ok(BigInt(a) < BigInt(b), `${what}: sequence number ${b} (at ${i}) does not follow ${a} as a BigInt`);
  }
}

const lastOf = (chain: Chain) => chain.responses.at(-1)!;

/**
 * The behaviour every RecordSource adapter must show (the guarantees written on the port,
 * src/ports/record_source.ts). `makeSource(shards)` gives a new stream of that many shards
 * for each test. Record counts stay small: kinesis-local takes about a millisecond a record.
 */
export function runRecordSourceContract(name: string, makeSource: (shardCount: number) => Promise<RecordSourceFixture>): void {
  test(`${name}: listShards gives every shard of a new stream, open, without parents, their hash key ranges covering all keys`, async () => {
    const { source } = await makeSource(3);
    const shards = (await source.listShards()).sort((a, b) => (BigInt(a.hashKeyRange.startingHashKey) < BigInt(b.hashKeyRange.startingHashKey) ? -1 : 1));
    assert.equal(shards.length, 3);
    assert.equal(new Set(shards.map((s) => s.shardId)).size, 3, "shard ids differ");
    for (const s of shards) {
      assert.equal(s.endingSequenceNumber, undefined, `${s.shardId} is open`);
      assert.equal(s.parentShardId, undefined, `${s.shardId} has no parent`);
      assert.equal(s.adjacentParentShardId, undefined, `${s.shardId} has no adjacent parent`);
    }
    assert.equal(BigInt(shards[0]!.hashKeyRange.startingHashKey), 0n);
    assert.equal(BigInt(shards.at(-1)!.hashKeyRange.endingHashKey), MAX_HASH_KEY);
    for (let i = 1; i < shards.length; i++) {
      assert.equal(BigInt(shards[i]!.hashKeyRange.startingHashKey), BigInt(shards[i - 1]!.hashKeyRange.endingHashKey) + 1n, `${shards[i]!.shardId} starts where ${shards[i - 1]!.shardId} ends`);
    }
  });

  test(`${name}: TRIM_HORIZON gives each shard's records once each, in sequence number order, with partition key and data as put`, async () => {
    const { source, put } = await makeSource(2);
    const all = [
      ...entries("key", 24),
      { partitionKey: "é 😀 / ключ", data: enc.encode("non-ASCII partition key") },
      { partitionKey: "k".repeat(256), data: enc.encode("the longest partition key") },
      { partitionKey: "every-byte", data: Uint8Array.from({ length: 256 }, (_, i) => i) },
      { partitionKey: "empty", data: new Uint8Array(0) },
    ];
    const results = await put(all);
    const expected = expectedByShard(all, results);
    assert.equal(expected.size, 2, "the partition keys spread over both shards");
    for (const [shardId, want] of expected) {
      const chain = await readChain(source, shardId, { type: "TRIM_HORIZON" }, want.length, 3);
      assert.deepEqual(chain.records, want, `${shardId}: every record once, in order, as put`);
      assertIncreasing(chain.records, shardId);
      assert.ok(lastOf(chain).nextIterator !== undefined, `${shardId} is open: its tip answers with a next iterator`);
      assert.equal(lastOf(chain).millisBehindLatest, 0, `${shardId}: a response at the tip is 0 ms behind it`);
      assert.ok(chain.arrivals.every((a) => a instanceof Date), `${shardId}: records carry their arrival time`);
    }
  });

  test(`${name}: sequence numbers increase as BigInts across puts, where comparing them as strings or Numbers would not tell`, async () => {
    const { source, put } = await makeSource(1);
    const first = entries("first", 30);
    const second = entries("second", 30);
    const results = [...(await put(first)), ...(await put(second))];
    const { shardId } = results[0]!;
    for (let i = 1; i < results.length; i++) {
      assert.ok(BigInt(results[i - 1]!.sequenceNumber) < BigInt(results[i]!.sequenceNumber), `put ${i} got a greater sequence number than put ${i - 1}`);
    }
    const chain = await readChain(source, shardId, { type: "TRIM_HORIZON" }, 60, 7);
    assert.deepEqual(chain.records, [...first, ...second].map((e, i) => seen({ ...e, sequenceNumber: results[i]!.sequenceNumber })));
    assertIncreasing(chain.records, shardId);
  });

  test(`${name}: LATEST gives only the records put after the iterator was taken`, async () => {
    const { source, put } = await makeSource(1);
    const { shardId } = (await put(entries("before", 5)))[0]!;
    const iterator = await source.getIterator(shardId, { type: "LATEST" });
    const later = entries("after", 6);
    const results = await put(later);
    const chain = await readFrom(source, iterator, later.length);
    assert.deepEqual(chain.records, later.map((e, i) => seen({ ...e, sequenceNumber: results[i]!.sequenceNumber })));
  });

  test(`${name}: AT_SEQUENCE_NUMBER starts at the record and AFTER_SEQUENCE_NUMBER just after it`, async () => {
    const { source, put } = await makeSource(1);
    const all = entries("seq", 10);
    const results = await put(all);
    const { shardId } = results[0]!;
    const want = expectedByShard(all, results).get(shardId)!;
    const at = want[4]!.sequenceNumber;
    assert.deepEqual((await readChain(source, shardId, { type: "AT_SEQUENCE_NUMBER", sequenceNumber: at }, 6)).records, want.slice(4));
    assert.deepEqual((await readChain(source, shardId, { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: at }, 5)).records, want.slice(5));
    assert.deepEqual((await readChain(source, shardId, { type: "AT_SEQUENCE_NUMBER", sequenceNumber: want[0]!.sequenceNumber }, 10)).records, want);
    const afterLast = await readChain(source, shardId, { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: want.at(-1)!.sequenceNumber }, 0);
    assert.deepEqual(afterLast.records, []);
    assert.ok(lastOf(afterLast).nextIterator !== undefined, "after the last record of an open shard comes a next iterator");
  });

  test(`${name}: AT_TIMESTAMP starts at the first record that arrived at or after the time`, async () => {
    const { source, put } = await makeSource(1);
    const early = entries("early", 5);
    const earlyResults = await put(early);
    const { shardId } = earlyResults[0]!;
    const earlyRead = await readChain(source, shardId, { type: "TRIM_HORIZON" }, 5);
    const lastEarly = Math.max(...earlyRead.arrivals.map((a) => a!.getTime()));
    // Arrival times are milliseconds: let the clock pass the early ones before putting again.
    await waitFor("the clock to pass the early records' arrival", () => Date.now() > lastEarly + 5, 5_000);
    const late = entries("late", 5);
    const lateResults = await put(late);
    const all = await readChain(source, shardId, { type: "TRIM_HORIZON" }, 10);
    const firstLate = all.arrivals[5]!;
    assert.ok(firstLate.getTime() > lastEarly, `the late records arrived after the early ones (${firstLate.toISOString()} > ${new Date(lastEarly).toISOString()})`);
    const lateSeen = late.map((e, i) => seen({ ...e, sequenceNumber: lateResults[i]!.sequenceNumber }));

    assert.deepEqual((await readChain(source, shardId, { type: "AT_TIMESTAMP", timestamp: firstLate }, 5)).records, lateSeen, "at the first late arrival: the late records");
    assert.deepEqual((await readChain(source, shardId, { type: "AT_TIMESTAMP", timestamp: new Date(lastEarly + 1) }, 5)).records, lateSeen, "between the two: the late records");
    assert.deepEqual((await readChain(source, shardId, { type: "AT_TIMESTAMP", timestamp: new Date(lastEarly - 60_000) }, 10)).records, all.records, "before all: every record");
    const lastLate = Math.max(...all.arrivals.map((a) => a!.getTime()));
    assert.deepEqual((await readChain(source, shardId, { type: "AT_TIMESTAMP", timestamp: new Date(lastLate + 1) }, 0)).records, [], "after all (and not in the future): none");
  });

  test(`${name}: a split closes the parent: read to its end it answers with no next iterator and its children, and listShards lists it with them`, async () => {
    const { source, put, split } = await makeSource(1);
    const before = entries("before", 7);
    const beforeResults = await put(before);
    const parent = beforeResults[0]!.shardId;
    const children = await split(parent);

    const shards = new Map<string, ShardDescription>((await source.listShards()).map((s) => [s.shardId, s]));
    assert.deepEqual([...shards.keys()].sort(), [parent, ...children].sort(), "the closed parent is listed beside its children");
    const p = shards.get(parent)!;
    assert.ok(p.endingSequenceNumber !== undefined, "the parent is closed");
    const [lo, hi] = children.map((c) => shards.get(c)!) as [ShardDescription, ShardDescription];
    for (const c of [lo, hi]) {
      assert.equal(c.parentShardId, parent, `${c.shardId}'s parent`);
      assert.equal(c.adjacentParentShardId, undefined, `${c.shardId} has one parent`);
      assert.equal(c.endingSequenceNumber, undefined, `${c.shardId} is open`);
    }
    assert.equal(lo.hashKeyRange.startingHashKey, p.hashKeyRange.startingHashKey, "the children start where the parent did");
    assert.equal(BigInt(hi.hashKeyRange.startingHashKey), BigInt(lo.hashKeyRange.endingHashKey) + 1n, "the children's ranges meet");
    assert.equal(hi.hashKeyRange.endingHashKey, p.hashKeyRange.endingHashKey, "the children end where the parent did");

    const after = entries("after", 12);
    const afterResults = await put(after);
    assert.ok(afterResults.every((r) => children.includes(r.shardId)), `records put after the split go to the children: ${afterResults.map((r) => r.shardId).join(", ")}`);

    const wantChildShards = children.map((c) => ({ shardId: c, parentShards: [parent] }));
    const sortChildren = (cs: ReadResult["childShards"]) => [...(cs ?? [])].sort((a, b) => (a.shardId < b.shardId ? -1 : 1));
    const chain = await readChain(source, parent, { type: "TRIM_HORIZON" }, before.length, 2);
    assert.deepEqual(chain.records, expectedByShard(before, beforeResults).get(parent), "the parent holds the records put before the split, each once, in order");
    assert.equal(lastOf(chain).nextIterator, undefined, "the parent, read to its end, answers with no next iterator");
    assert.deepEqual(sortChildren(lastOf(chain).childShards), wantChildShards, "and with its children");
    assert.ok(chain.responses.slice(0, -1).every((r) => r.nextIterator !== undefined), "every earlier response has a next iterator");

    const latest = await source.getRecords(await source.getIterator(parent, { type: "LATEST" }), 10);
    assert.deepEqual([latest.records.length, latest.nextIterator], [0, undefined], "LATEST on the closed parent is its end");
    assert.deepEqual(sortChildren(latest.childShards), wantChildShards);

    const want = expectedByShard(after, afterResults);
    for (const c of children) {
      const read = await readChain(source, c, { type: "TRIM_HORIZON" }, want.get(c)?.length ?? 0);
      assert.deepEqual(read.records, want.get(c) ?? [], `${c} holds the records put to it after the split`);
    }
  });

  test(`${name}: records the retention trimmed are gone: TRIM_HORIZON starts at the oldest kept, and AT or AFTER_SEQUENCE_NUMBER of a trimmed record at the trim horizon, silently`, async (t) => {
    const fixture = await makeSource(1);
    if (!fixture.trimBefore) return t.skip("this stream cannot be made to trim records in a test");
    const { source, put } = fixture;
    const early = entries("early", 6);
    const earlyResults = await put(early);
    const { shardId } = earlyResults[0]!;
    const earlyRead = await readChain(source, shardId, { type: "TRIM_HORIZON" }, early.length);
    const lastEarly = Math.max(...earlyRead.arrivals.map((a) => a!.getTime()));
    await waitFor("the clock to pass the early records' arrival", () => Date.now() > lastEarly + 5, 5_000);
    const late = entries("late", 4);
    const lateResults = await put(late);
    const lateSeen = late.map((e, i) => seen({ ...e, sequenceNumber: lateResults[i]!.sequenceNumber }));
    const all = await readChain(source, shardId, { type: "TRIM_HORIZON" }, 10);
    await fixture.trimBefore(all.arrivals[6]!);

    assert.deepEqual((await readChain(source, shardId, { type: "TRIM_HORIZON" }, 4)).records, lateSeen, "TRIM_HORIZON: the oldest record kept first");
    const trimmed = earlyResults[2]!.sequenceNumber;
    for (const type of ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"] as const) {
      assert.deepEqual((await readChain(source, shardId, { type, sequenceNumber: trimmed }, 4)).records, lateSeen, `${type} of a trimmed record: the trim horizon`);
    }
    const kept = lateResults[1]!.sequenceNumber;
    assert.deepEqual((await readChain(source, shardId, { type: "AT_SEQUENCE_NUMBER", sequenceNumber: kept }, 3)).records, lateSeen.slice(1), "AT_SEQUENCE_NUMBER of a kept record: that record");
    assert.deepEqual((await readChain(source, shardId, { type: "AT_TIMESTAMP", timestamp: new Date(lastEarly - 60_000) }, 4)).records, lateSeen, "AT_TIMESTAMP before the trim horizon: the trim horizon");
  });

  test(`${name}: getIterator of a shard the stream does not have raises FatalSourceError`, async () => {
    const { source } = await makeSource(1);
    await assert.rejects(source.getIterator("shardId-000000000099", { type: "TRIM_HORIZON" }), FatalSourceError);
  });
}
