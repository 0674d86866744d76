import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { aggregateRecords } from "../../../tests/helpers/kpl.ts";
import { belongsToShard, deaggregate } from "./deaggregate.ts";
import type { KinesisRecord } from "../../ports/record_source.ts";

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const SEQUENCE = "49590338271490256608559692538361571095921575989136588898";
const ARRIVAL = new Date("2024-05-01T12:00:00.123Z");
const MAX_HASH_KEY = 2n ** 128n - 1n;

function kinesisRecord(data: Uint8Array, partitionKey = "outer-key"): KinesisRecord {
  return { data, partitionKey, sequenceNumber: SEQUENCE, approximateArrivalTimestamp: ARRIVAL };
}

/** The protobuf between the magic bytes and the digest of an aggregated record. */
function bodyOf(aggregated: Uint8Array): Uint8Array {
  return aggregated.subarray(4, aggregated.length - 16);
}

/** Frames protobuf bytes as an aggregated record with a matching digest, for malformed bodies. */
function frame(body: Uint8Array): Uint8Array {
  const digest = createHash("md5").update(body).digest();
  return Uint8Array.from([0xf3, 0x89, 0x9a, 0xc2, ...body, ...digest]);
}

/** A `records` field (3, length-delimited) around a hand-written `Record` of under 128 bytes. */
function recordField(...inner: number[]): Uint8Array {
  return Uint8Array.from([0x1a, inner.length, ...inner]);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((part) => [...part]));
}

function assertPassedThrough(record: KinesisRecord): void {
  const users = deaggregate(record);
  assert.equal(users.length, 1);
  assert.deepEqual(users[0], { ...record, subSequenceNumber: 0, aggregated: false });
  assert.equal(users[0]?.data, record.data, "the data is the record's own, not a copy");
}

const text = (data: Uint8Array | undefined): string => new TextDecoder().decode(data);

test("a record without the KPL magic bytes passes through as sub-record 0", () => {
  assertPassedThrough(kinesisRecord(bytes('{"order":1}')));
  assertPassedThrough(kinesisRecord(new Uint8Array(0)));
  assertPassedThrough(kinesisRecord(Uint8Array.from([0xf3, 0x89, 0x9a])));
  assertPassedThrough(kinesisRecord(Uint8Array.from([0xf3, 0x89, 0x9a, 0xc3, ...new Uint8Array(40)])));
  const magicAndDigestOnly = frame(new Uint8Array(0));
  assertPassedThrough(kinesisRecord(magicAndDigestOnly));
});

test("an aggregated record yields its sub-records in order, each with its own partition key", () => {
  const inputs = ["order-a", "order-b", "order-c", "order-d", "order-e"].map((partitionKey) => ({
    partitionKey,
    data: bytes(`payload of ${partitionKey}`),
  }));
  const users = deaggregate(kinesisRecord(aggregateRecords(inputs)));
  assert.deepEqual(
    users.map((user) => ({ ...user, data: text(user.data) })),
    inputs.map((input, index) => ({
      data: `payload of ${input.partitionKey}`,
      partitionKey: input.partitionKey,
      sequenceNumber: SEQUENCE,
      subSequenceNumber: index,
      aggregated: true,
      approximateArrivalTimestamp: ARRIVAL,
    })),
  );
  assert.ok(users.every((user) => !("explicitHashKey" in user)), "no explicit hash key when none was aggregated");
});

test("a record without an arrival time yields sub-records without one", () => {
  const aggregated = aggregateRecords([{ partitionKey: "k", data: bytes("x") }]);
  const [user] = deaggregate({ data: aggregated, partitionKey: "k", sequenceNumber: SEQUENCE });
  assert.ok(user !== undefined && !("approximateArrivalTimestamp" in user));
});

test("sub-records take explicit hash keys from the table, and only those that were given one", () => {
  const low = "85070591730234615865843651857942052863"; // 2^126 - 1
  const high = "255211775190703847597530955573826158591"; // 3 * 2^126 - 1
  const users = deaggregate(
    kinesisRecord(
      aggregateRecords([
        { partitionKey: "p1", data: bytes("one"), explicitHashKey: high },
        { partitionKey: "p2", data: bytes("two") },
        { partitionKey: "p1", data: bytes("three"), explicitHashKey: low },
        { partitionKey: "p3", data: bytes("four"), explicitHashKey: high },
      ]),
    ),
  );
  assert.deepEqual(
    users.map((user) => [user.partitionKey, user.explicitHashKey, text(user.data)]),
    [
      ["p1", high, "one"],
      ["p2", undefined, "two"],
      ["p1", low, "three"],
      ["p3", high, "four"],
    ],
  );
  assert.ok(!("explicitHashKey" in (users[1] ?? {})));
});

test("a sub-record with empty data comes out empty and leaves its neighbours intact", () => {
  const users = deaggregate(
    kinesisRecord(
      aggregateRecords([
        { partitionKey: "a", data: bytes("before") },
        { partitionKey: "b", data: new Uint8Array(0) },
        { partitionKey: "c", data: bytes("after") },
      ]),
    ),
  );
  assert.deepEqual(
    users.map((user) => [user.subSequenceNumber, user.partitionKey, text(user.data)]),
    [
      [0, "a", "before"],
      [1, "b", ""],
      [2, "c", "after"],
    ],
  );
  assert.equal(users[1]?.data.length, 0);
});

test("a corrupted MD5 digest makes the record pass through as one plain record", () => {
  const aggregated = aggregateRecords([
    { partitionKey: "a", data: bytes("one") },
    { partitionKey: "b", data: bytes("two") },
  ]);
  const badDigest = aggregated.slice();
  badDigest[badDigest.length - 1]! ^= 0x01;
  assertPassedThrough(kinesisRecord(badDigest));
  const badBody = aggregated.slice();
  badBody[10]! ^= 0x80;
  assertPassedThrough(kinesisRecord(badBody));
});

test("a truncated protobuf passes through even when its digest matches it", () => {
  const inputs = ["alpha", "beta", "gamma"].map((partitionKey, i) => ({
    partitionKey,
    data: bytes(`${partitionKey} `.repeat(i + 3)),
    explicitHashKey: `${10n ** 30n + BigInt(i)}`,
  }));
  const body = bodyOf(aggregateRecords(inputs));
  assertPassedThrough(kinesisRecord(frame(body.subarray(0, body.length - 1))));

  // Cut anywhere: the result is either the record as is or, when the cut falls between two
  // sub-records, the sub-records before it; never a throw, never a damaged sub-record.
  const whole = deaggregate(kinesisRecord(frame(body)));
  for (let cut = 1; cut < body.length; cut++) {
    const record = kinesisRecord(frame(body.subarray(0, cut)));
    const users = deaggregate(record);
    if (users.length === 1 && !users[0]?.aggregated) {
      assert.equal(users[0]?.data, record.data);
    } else {
      assert.deepEqual(
        users.map((user) => [user.partitionKey, user.explicitHashKey, text(user.data)]),
        whole.slice(0, users.length).map((user) => [user.partitionKey, user.explicitHashKey, text(user.data)]),
        `cut at ${cut}`,
      );
    }
  }
});

test("an index outside its table passes the record through", () => {
  const body = bodyOf(aggregateRecords([{ partitionKey: "only", data: bytes("x") }]));
  // Record { partition_key_index: 1, data: "y" } against a one-entry table.
  const badPartitionKeyIndex = recordField(0x08, 0x01, 0x1a, 0x01, 0x79);
  assertPassedThrough(kinesisRecord(frame(concat(body, badPartitionKeyIndex))));
  // Record { partition_key_index: 0, explicit_hash_key_index: 0, data: "y" } with no hash key table.
  const badHashKeyIndex = recordField(0x08, 0x00, 0x10, 0x00, 0x1a, 0x01, 0x79);
  assertPassedThrough(kinesisRecord(frame(concat(body, badHashKeyIndex))));
  // An index beyond 2^53, encoded in ten bytes.
  const hugeIndex = recordField(0x08, ...Array<number>(9).fill(0xff), 0x01, 0x1a, 0x01, 0x79);
  assertPassedThrough(kinesisRecord(frame(concat(body, hugeIndex))));
});

test("a sub-record missing a required field, a tag without a key or a group passes the record through", () => {
  const body = bodyOf(aggregateRecords([{ partitionKey: "only", data: bytes("x") }]));
  const noData = recordField(0x08, 0x00);
  const noPartitionKeyIndex = recordField(0x1a, 0x01, 0x79);
  const tagWithoutKey = recordField(0x08, 0x00, 0x1a, 0x01, 0x79, 0x22, 0x02, 0x12, 0x00);
  const group = Uint8Array.from([0x2b, 0x2c]); // field 5, start group / end group
  const varintOfElevenBytes = Uint8Array.from([0x28, ...Array<number>(10).fill(0x80), 0x00]);
  for (const bad of [noData, noPartitionKeyIndex, tagWithoutKey, group, varintOfElevenBytes]) {
    assertPassedThrough(kinesisRecord(frame(concat(body, bad))));
  }
});

test("unknown fields of wire types 0, 1, 2 and 5 are skipped, and tags are ignored", () => {
  const body = bodyOf(aggregateRecords([{ partitionKey: "first", data: bytes("one") }]));
  const unknownTopLevel = Uint8Array.from([
    0x78, 0x96, 0x01, // field 15, varint 150
    0x79, 1, 2, 3, 4, 5, 6, 7, 8, // field 15, fixed64
    0x7a, 0x02, 0xab, 0xcd, // field 15, 2 bytes
    0x7d, 1, 2, 3, 4, // field 15, fixed32
    0x80, 0x01, 0x05, // field 16 (two-byte tag), varint 5
  ]);
  const recordWithExtras = recordField(
    0x30, 0x07, // field 6, varint
    0x22, 0x06, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76, // Tag { key: "k", value: "v" }
    0x1a, 0x03, 0x74, 0x77, 0x6f, // data: "two"
    0x3d, 9, 9, 9, 9, // field 7, fixed32
    0x41, 1, 1, 1, 1, 1, 1, 1, 1, // field 8, fixed64
    0x08, 0x00, // partition_key_index: 0, after the data
  );
  const users = deaggregate(kinesisRecord(frame(concat(body, unknownTopLevel, recordWithExtras))));
  assert.deepEqual(
    users.map((user) => [user.subSequenceNumber, user.partitionKey, text(user.data), user.aggregated]),
    [
      [0, "first", "one", true],
      [1, "first", "two", true],
    ],
  );
});

test("an aggregated record without sub-records yields no user records, as with the KCL", () => {
  const partitionKeyTableOnly = Uint8Array.from([0x0a, 0x01, 0x61]);
  assert.deepEqual(deaggregate(kinesisRecord(frame(partitionKeyTableOnly))), []);
});

test("a 1 MB aggregated payload yields views into the record's buffer, not copies", () => {
  const inputs = Array.from({ length: 4 }, (_, i) => {
    const data = new Uint8Array(250_000);
    for (let j = 0; j < data.length; j++) data[j] = (j * 31 + i * 7) & 0xff;
    return { partitionKey: `big-${i}`, data };
  });
  const aggregated = aggregateRecords(inputs);
  assert.ok(aggregated.length > 1_000_000 && aggregated.length <= 1024 * 1024, `${aggregated.length} bytes`);
  const users = deaggregate(kinesisRecord(aggregated));
  assert.equal(users.length, 4);
  users.forEach((user, i) => {
    assert.equal(user.partitionKey, `big-${i}`);
    assert.deepEqual(user.data, inputs[i]?.data);
    assert.equal(user.data.buffer, aggregated.buffer, "a view of the record's buffer");
  });
});

test("a thousand sub-records keep their order and are numbered 0 to 999", () => {
  const keys = ["north", "south", "east", "west", "up", "down", "centre"];
  const inputs = Array.from({ length: 1000 }, (_, i) => ({ partitionKey: keys[i % keys.length]!, data: bytes(`#${i}`) }));
  const users = deaggregate(kinesisRecord(aggregateRecords(inputs)));
  assert.deepEqual(
    users.map((user) => [user.subSequenceNumber, user.partitionKey, text(user.data)]),
    inputs.map((input, i) => [i, input.partitionKey, `#${i}`]),
  );
});

test("an aggregated record that starts inside a larger buffer decodes the same", () => {
  const aggregated = aggregateRecords([
    { partitionKey: "a", data: bytes("one") },
    { partitionKey: "b", data: bytes("two") },
  ]);
  const buffer = new Uint8Array(aggregated.length + 20).fill(0xee);
  buffer.set(aggregated, 13);
  const users = deaggregate(kinesisRecord(buffer.subarray(13, 13 + aggregated.length)));
  assert.deepEqual(
    users.map((user) => [user.partitionKey, text(user.data)]),
    [
      ["a", "one"],
      ["b", "two"],
    ],
  );
});

/** The first partition keys `prefix-0`, `prefix-1`, … whose MD5 hash key is below 2^127, and at or above it. */
function partitionKeysOnBothHalves(prefix: string): { low: string; high: string } {
  let low: string | undefined;
  let high: string | undefined;
  for (let i = 0; low === undefined || high === undefined; i++) {
    const key = `${prefix}-${i}`;
    const firstByte = createHash("md5").update(key).digest()[0]!;
    if (firstByte < 0x80) low ??= key;
    else high ??= key;
  }
  return { low, high };
}

test("a record aggregated across a reshard boundary keeps every sub-record, and belongsToShard tells them apart", () => {
  // The parent shard covered every hash key; its split gave the lower half to the child that
  // received this aggregated record, and the upper half to its sibling.
  const split = 2n ** 127n;
  const child = { startingHashKey: "0", endingHashKey: `${split - 1n}` };
  const sibling = { startingHashKey: `${split}`, endingHashKey: `${MAX_HASH_KEY}` };
  const { low, high } = partitionKeysOnBothHalves("customer");
  const inputs = [
    { partitionKey: low, data: bytes("pk in child") },
    { partitionKey: high, data: bytes("pk in sibling") },
    { partitionKey: high, data: bytes("ehk in child"), explicitHashKey: `${split - 1n}` },
    { partitionKey: low, data: bytes("ehk in sibling"), explicitHashKey: `${split}` },
  ];
  const users = deaggregate(kinesisRecord(aggregateRecords(inputs), low));
  assert.deepEqual(
    users.map((user) => [user.subSequenceNumber, text(user.data)]),
    inputs.map((input, i) => [i, text(input.data)]),
  );
  assert.deepEqual(
    users.map((user) => belongsToShard(user, child)),
    [true, false, true, false],
  );
  assert.deepEqual(
    users.map((user) => belongsToShard(user, sibling)),
    [false, true, false, true],
  );
  assert.deepEqual(
    users.filter((user) => belongsToShard(user, child)).map((user) => user.subSequenceNumber),
    [0, 2],
    "filtering one by one keeps the in-range sub-records and their numbers",
  );
});

test("belongsToShard includes both bounds of the range and nothing outside them", () => {
  const range = { startingHashKey: "340282366920938463463374607431768211", endingHashKey: "340282366920938463463374607431768311" };
  const at = (explicitHashKey: bigint): boolean =>
    belongsToShard({ partitionKey: "ignored", explicitHashKey: `${explicitHashKey}` }, range);
  const start = BigInt(range.startingHashKey);
  const end = BigInt(range.endingHashKey);
  assert.deepEqual([at(start - 1n), at(start), at(start + 50n), at(end), at(end + 1n)], [false, true, true, true, false]);
  assert.equal(belongsToShard({ partitionKey: "x", explicitHashKey: `${MAX_HASH_KEY}` }, { startingHashKey: "0", endingHashKey: `${MAX_HASH_KEY}` }), true);
});

test("belongsToShard hashes the partition key with MD5, read as a 128-bit big-endian number", () => {
  const hashOfA = 0x0cc175b9c0f1b6a831c399e269772661n; // MD5("a")
  const record = { partitionKey: "a" };
  assert.equal(belongsToShard(record, { startingHashKey: `${hashOfA}`, endingHashKey: `${hashOfA}` }), true);
  assert.equal(belongsToShard(record, { startingHashKey: "0", endingHashKey: `${hashOfA - 1n}` }), false);
  assert.equal(belongsToShard(record, { startingHashKey: `${hashOfA + 1n}`, endingHashKey: `${MAX_HASH_KEY}` }), false);
  const hashOfE = 0x66ddcd97cfdeabb2f6fb8a999b4bc76fn; // MD5 of "é" in UTF-8 (c3 a9)
  assert.equal(belongsToShard({ partitionKey: "é" }, { startingHashKey: `${hashOfE}`, endingHashKey: `${hashOfE}` }), true);
});

test("belongsToShard prefers the explicit hash key, and one that is not decimal belongs to no shard", () => {
  const everything = { startingHashKey: "0", endingHashKey: `${MAX_HASH_KEY}` };
  const hashOfA = 0x0cc175b9c0f1b6a831c399e269772661n;
  assert.equal(belongsToShard({ partitionKey: "a", explicitHashKey: "5" }, { startingHashKey: "0", endingHashKey: "10" }), true);
  assert.equal(belongsToShard({ partitionKey: "a", explicitHashKey: "5" }, { startingHashKey: `${hashOfA}`, endingHashKey: `${hashOfA}` }), false);
  for (const explicitHashKey of ["", "0x10", "-1", "1e3", " 7", "12abc"]) {
    assert.equal(belongsToShard({ partitionKey: "a", explicitHashKey }, everything), false, `'${explicitHashKey}'`);
  }
});
