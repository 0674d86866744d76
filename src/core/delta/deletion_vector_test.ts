import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../adapters/memory/memory_store.ts";
import type { Add, Remove } from "./actions.ts";
import { crc32, decodeBitmapArray, readDeletionVector, relativeVectorPath, z85Decode } from "./deletion_vector.ts";
import { Snapshot } from "./snapshot.ts";

const le16 = (v: number) => [v & 0xff, v >>> 8];
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const le64 = (v: number) => [...le32(v), 0, 0, 0, 0];
const MAGIC = le32(1681511377);

test("Z85 decodes ZeroMQ's example, and a UUID becomes the vector's file name", () => {
  assert.deepEqual([...z85Decode("HelloWorld")], [0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
  assert.throws(() => z85Decode("Hell"), /multiple of 5/);
  assert.throws(() => z85Decode("Hell~"), /not a Z85 character/);
  // 16 zero bytes are "00000" four times; with a prefix the file sits in that folder.
  assert.equal(relativeVectorPath("0".repeat(20)), "deletion_vector_00000000-0000-0000-0000-000000000000.bin");
  assert.equal(relativeVectorPath(`ab${"HelloWorld".repeat(2)}`), "ab/deletion_vector_864fd26f-b559-f75b-864f-d26fb559f75b.bin");
});

test("CRC-32 is java.util.zip's", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

test("a RoaringBitmapArray of array, bitmap and run containers, in two 32-bit buckets, gives its 64-bit row indexes", () => {
  // Bucket 0, without runs (cookie 12346): one array container {1, 5, 70000-65536=4464 in key 1}.
  const noRuns = [
    ...le32(12346), ...le32(2), // cookie, 2 containers
    ...le16(0), ...le16(1), ...le16(1), ...le16(0), // key 0: 2 values; key 1: 1 value
    ...le32(0), ...le32(0), // offsets (read past)
    ...le16(1), ...le16(5), // container 0: array
    ...le16(4464), // container 1: array → 65536 + 4464 = 70000
  ];
  // Bucket 2, with runs (cookie 12347, 2 containers): a run container [10..12] and a bitmap container of 5000 values.
  const bitmap = new Uint8Array(8192);
  for (let v = 0; v < 5000; v++) bitmap[v >> 3]! |= 1 << (v & 7);
  const withRuns = [
    ...le32(12347 | ((2 - 1) << 16)), 0b01, // cookie with 2 containers; container 0 is a run container
    ...le16(0), ...le16(2), ...le16(3), ...le16(4999), // key 0: 3 values; key 3: 5000 values
    // (fewer than 4 containers with runs: no offset header)
    ...le16(1), ...le16(10), ...le16(2), // one run: start 10, length-1 2
    ...bitmap,
  ];
  const data = new Uint8Array([...MAGIC, ...le64(2), ...le32(0), ...noRuns, ...le32(2), ...withRuns]);
  const rows = decodeBitmapArray(data);
  const high = 2 * 2 ** 32;
  const expected = [1, 5, 70000, high + 10, high + 11, high + 12, ...Array.from({ length: 5000 }, (_, v) => high + 3 * 65536 + v)];
  assert.deepEqual([...rows].sort((a, b) => a - b), expected.sort((a, b) => a - b));
  assert.throws(() => decodeBitmapArray(new Uint8Array([1, 2, 3, 4, ...le64(0)])), /magic number/);
  assert.throws(() => decodeBitmapArray(data.subarray(0, data.length - 10)), /truncated/);
});

test("a vector in a file is checked (size, CRC-32, cardinality) and read", async () => {
  const vector = new Uint8Array([...MAGIC, ...le64(1), ...le32(0), ...le32(12346), ...le32(1), ...le16(0), ...le16(1), ...le32(0), ...le16(3), ...le16(7)]);
  const crc = crc32(vector);
  const file = new Uint8Array([1, 0xde, 0xad, 0, 0, 0, vector.length, ...vector, crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
  const store = new MemoryStore("t");
  await store.put(relativeVectorPath("0".repeat(20)), file);
  const dv = { storageType: "u", pathOrInlineDv: "0".repeat(20), offset: 3, sizeInBytes: vector.length, cardinality: 2 };
  assert.deepEqual([...(await readDeletionVector(store, dv))].sort(), [3, 7]);
  await assert.rejects(readDeletionVector(store, { ...dv, cardinality: 3 }), /holds 2 rows, its descriptor says 3/);
  const bad = file.slice();
  bad[file.length - 1]! ^= 1;
  await store.put(relativeVectorPath("0".repeat(20)), bad);
  await assert.rejects(readDeletionVector(store, dv), /CRC-32/);
});

test("an inline vector as delta-kernel-rs's tests give it: rows 3, 4, 7, 11, 18 and 29", async () => {
  const dv = { storageType: "i", pathOrInlineDv: "^Bg9^0rr910000000000iXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L", sizeInBytes: 44, cardinality: 6 };
  assert.deepEqual([...(await readDeletionVector(new MemoryStore("t"), dv))].sort((a, b) => a - b), [3, 4, 7, 11, 18, 29]);
});

test("a file is its path and its vector: a remove of the old vector after the add of the new one leaves the file live", () => {
  const add = (dv?: Record<string, unknown>): Add => ({ path: "f.parquet", partitionValues: {}, size: 1, modificationTime: 0, dataChange: true, ...(dv ? { deletionVector: dv } : {}) });
  const remove = (dv?: Record<string, unknown>): Remove => ({ path: "f.parquet", dataChange: true, ...(dv ? { deletionVector: dv } : {}) });
  const dv = { storageType: "i", pathOrInlineDv: "abcde", sizeInBytes: 4, cardinality: 1 };
  const s = new Snapshot({ anyProtocol: true });
  s.apply(0, [{ add: add() }]);
  s.apply(1, [{ add: add(dv) }, { remove: remove() }]);
  assert.deepEqual(s.files.get("f.parquet")?.deletionVector, dv, "add then remove: the new vector stays");
  const dv2 = { ...dv, pathOrInlineDv: "fghij" };
  s.apply(2, [{ remove: remove(dv) }, { add: add(dv2) }]);
  assert.deepEqual(s.files.get("f.parquet")?.deletionVector, dv2, "remove then add");
  s.apply(3, [{ remove: remove(dv2) }]);
  assert.equal(s.files.size, 0, "the file with its vector removed");
});
