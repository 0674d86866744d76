import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../adapters/memory/memory_store.ts";
import type { ObjectStore } from "../../ports/object_store.ts";
import { rowsToArrow } from "../arrow/rows_to_arrow.ts";
import { field, struct } from "../schema/schema.ts";
import type { Action, Add } from "./actions.ts";
import { ConcurrentDeleteReadError } from "./errors.ts";
import { optimize, planCompaction, planTieredCompaction, sizeTier, StatsMerger } from "./optimize.ts";
import { readCommit } from "./snapshot.ts";
import { statsJson } from "./stats.ts";
import { DeltaTable } from "./table.ts";
import { UnsupportedFeaturesError } from "./vacuum.ts";
import { encodeCommit } from "./actions.ts";
import { commitKey } from "./log_paths.ts";

const SCHEMA = struct(
  field("id", "long"),
  field("day", "string"),
  field("name", "string"),
  field("price", "double"),
  field("at", "timestamp"),
  field("tags", { type: "array", elementType: "string", containsNull: true }),
  field("s", struct(field("a", "integer"), field("b", "string"))),
);

const add = (path: string, size: number, partitionValues: Record<string, string | null> = {}): Add => ({ path, size, partitionValues, modificationTime: 0, dataChange: true });

function row(i: number): Record<string, unknown> {
  return {
    id: i,
    day: `d${i % 3}`,
    name: i % 7 === 0 ? null : `name-${i}-${"é".repeat(i % 5)}`,
    price: i % 11 === 0 ? null : i * 1.5,
    at: new Date(Date.UTC(2025, 0, 1) + i * 1234567),
    tags: i % 4 === 0 ? null : [`t${i}`, null],
    s: i % 9 === 0 ? null : { a: i, b: `b${i}` },
  };
}

const sortRows = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r, (_, v) => (typeof v === "bigint" ? v.toString() : v))).sort();

/** A store that runs `hook` once, the first time a data file is put after `armed` is set. */
class HookStore {
  armed = false;
  hook: (() => Promise<void>) | undefined;
  constructor(readonly inner: MemoryStore) {}
  view(): ObjectStore {
    return new Proxy(this.inner, {
      get: (target, prop, receiver) => {
        if (prop === "put") {
          return async (key: string, body: Uint8Array) => {
            await target.put(key, body);
            if (this.armed && !key.startsWith("_delta_log/") && this.hook) {
              const h = this.hook;
              this.hook = undefined;
              await h();
            }
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
  }
}

async function lastCommit(table: DeltaTable): Promise<Action[]> {
  await table.refresh();
  return (await readCommit(table.store, table.version))!;
}

test("bin packing: per partition, small files only, smallest first up to the target, lone files and thin partitions left alone", () => {
  const files = [
    add("p=a/1", 10, { p: "a" }), add("p=a/2", 30, { p: "a" }), add("p=a/3", 50, { p: "a" }), add("p=a/4", 60, { p: "a" }), add("p=a/big", 100, { p: "a" }),
    add("p=b/1", 5, { p: "b" }),
    add("p=c/1", 5, { p: "c" }), add("p=c/2", 5, { p: "c" }),
    add("p=d/1", 5, { p: "d" }), add("p=d/2", 5, { p: "d" }), { ...add("p=d/dv", 5, { p: "d" }), deletionVector: { storageType: "u" } },
  ];
  const bins = planCompaction(files, ["p"], { targetFileSize: 100 });
  // a: 10+30+50 = 90 ≤ 100, then 60 alone (left); 100 is not small. b: one file. c, d: one bin each (the DV file not taken).
  assert.deepEqual(bins.map((b) => [b.partitionValues.p, b.files.map((f) => f.path), b.bytes]), [
    ["a", ["p=a/1", "p=a/2", "p=a/3"], 90],
    ["c", ["p=c/1", "p=c/2"], 10],
    ["d", ["p=d/1", "p=d/2"], 10],
  ]);
  assert.deepEqual(planCompaction(files, ["p"], { targetFileSize: 100, minFiles: 3 }).map((b) => b.partitionValues.p), ["a"]);
  assert.deepEqual(planCompaction(files, ["p"], { targetFileSize: 100, partitionFilter: { p: "c" } }).map((b) => b.partitionValues.p), ["c"]);
});

test("merged chunk statistics equal the statistics of all rows written at once; a chunk with NaN drops the bounds", () => {
  const schema = struct(field("id", "long"), field("x", "double"), field("name", "string"), field("s", struct(field("a", "integer"))));
  const rows = Array.from({ length: 30 }, (_, i) => ({ id: 30 - i, x: i === 25 ? Number.NaN : i / 2, name: i % 4 ? `n\u{1F600}${i}` : `n\uE000${i}`, s: i % 3 ? { a: i } : null }));
  const merger = new StatsMerger(schema);
  for (const part of [rows.slice(0, 10), rows.slice(10, 11), rows.slice(11)]) merger.add(rowsToArrow(schema, part).stats, part.length);
  assert.equal(statsJson(schema, merger.result(), 30), statsJson(schema, rowsToArrow(schema, rows).stats, 30));
  assert.doesNotMatch(statsJson(schema, merger.result(), 30), /"minValues":\{[^}]*"x"/);
  assert.match(statsJson(schema, merger.result(), 30), /"minValues":\{"id":1,/);
});

test("optimize compacts a partitioned table: same rows, writer's stats, Spark's commitInfo, dataChange false, no-op when done", async () => {
  let clock = Date.UTC(2026, 0, 1);
  const store = new MemoryStore("t", () => clock);
  const table = await DeltaTable.openOrCreate(store, { schema: SCHEMA, partitionColumns: ["day"] }, { now: () => clock });
  const all: Record<string, unknown>[] = [];
  for (let b = 0; b < 40; b++) {
    const rows = Array.from({ length: 3 + (b % 4) }, (_, k) => row(b * 10 + k));
    all.push(...rows);
    await table.append(rows);
    clock += 1000;
  }
  const before = sortRows(await table.readRows(undefined, { timestamps: "micros" }));
  const filesBefore = table.snapshot.files.size;
  const res = await optimize(table, { now: () => clock, chunkRows: 7 });
  assert.equal(res.numAddedFiles, 3);
  assert.equal(res.numRemovedFiles, filesBefore);
  assert.equal(res.filesAfter, 3);
  assert.equal(res.rows, all.length);
  const fresh = await DeltaTable.open(store);
  assert.deepEqual(sortRows(await fresh.readRows(undefined, { timestamps: "micros" })), before);
  // Each new file's stats are what the writer writes for its rows.
  for (const f of fresh.snapshot.files.values()) {
    assert.equal(f.dataChange, false);
    const rows = all.filter((r) => r.day === f.partitionValues.day).map(({ day: _, ...r }) => r);
    assert.equal(f.stats, statsJson(fresh.dataSchema, rowsToArrow(fresh.dataSchema, rows).stats, rows.length));
  }
  const actions = await lastCommit(fresh);
  const info = actions[0]!.commitInfo!;
  assert.equal(info.operation, "OPTIMIZE");
  assert.deepEqual(info.operationParameters, { predicate: "[]", zOrderBy: "[]", clusterBy: "[]", auto: false });
  assert.equal(info.isolationLevel, "SnapshotIsolation");
  assert.equal(info.isBlindAppend, false);
  const m = info.operationMetrics as Record<string, string>;
  assert.equal(m.numRemovedFiles, String(filesBefore));
  assert.equal(m.numAddedFiles, "3");
  assert.equal(Number(m.numAddedBytes), res.numAddedBytes);
  const removes = actions.filter((a) => a.remove).map((a) => a.remove!);
  assert.equal(removes.length, filesBefore);
  for (const r of removes) {
    assert.equal(r.dataChange, false);
    assert.equal(r.extendedFileMetadata, true);
    assert.equal(r.deletionTimestamp, clock);
    assert.equal(typeof r.size, "number");
    assert.ok(r.partitionValues?.day);
    assert.match(r.stats!, /^\{"numRecords":\d+\}$/);
  }
  const again = await optimize(fresh, { now: () => clock });
  assert.equal(again.version, null);
  assert.equal((await DeltaTable.open(store)).version, fresh.version);
});

test("a blind append during optimize does not conflict: the commit goes to the next version and keeps the appended file", async () => {
  const hooked = new HookStore(new MemoryStore("t"));
  const table = await DeltaTable.openOrCreate(hooked.view(), { schema: SCHEMA });
  for (let b = 0; b < 10; b++) await table.append([row(b)]);
  const other = await DeltaTable.open(hooked.inner);
  let appended: Add | undefined;
  hooked.hook = async () => void (appended = (await other.append([row(100)])).adds[0]);
  hooked.armed = true;
  const res = await optimize(table);
  assert.equal(res.binsSkipped, 0);
  assert.equal(res.version, 12);
  const fresh = await DeltaTable.open(hooked.inner);
  assert.equal(fresh.snapshot.files.size, 2);
  assert.ok(fresh.snapshot.files.has(appended!.path));
  assert.equal((await fresh.readRows()).length, 11);
});

test("a concurrent rewrite of a file a bin read drops that bin only; a MERGE meeting optimize's removal must compute again", async () => {
  const hooked = new HookStore(new MemoryStore("t"));
  const table = await DeltaTable.openOrCreate(hooked.view(), { schema: SCHEMA, partitionColumns: ["day"] });
  for (let b = 0; b < 12; b++) await table.append([row(b), row(b + 100)]);
  const other = await DeltaTable.open(hooked.inner);
  const victim = [...other.snapshot.files.values()].find((f) => f.partitionValues.day === "d0")!;
  const inD0 = [...other.snapshot.files.values()].filter((f) => f.partitionValues.day === "d0").length;
  hooked.hook = async () => {
    await other.refresh();
    await other.rewrite([victim], [{ ...row(999), day: "d0" }]);
  };
  hooked.armed = true;
  const res = await optimize(table);
  assert.equal(res.bins, 3);
  assert.equal(res.binsSkipped, 1);
  assert.equal(res.numAddedFiles, 2);
  const fresh = await DeltaTable.open(hooked.inner);
  const rows = await fresh.readRows();
  assert.equal(rows.length, 24);
  assert.ok(rows.some((r) => r.id === 999n));
  // The dropped bin's new file was deleted, not left behind.
  const keys: string[] = [];
  for await (const m of hooked.inner.list("day=d0/")) keys.push(m.key);
  assert.equal(keys.length, inD0 + 1);

  // A MERGE that read a file before optimize removed it loses: ConcurrentDeleteReadError.
  await fresh.append([row(301)]);
  await fresh.append([row(304)]);
  const merge = await DeltaTable.open(hooked.inner);
  const read = [...merge.snapshot.files.values()].find((f) => f.partitionValues.day === "d1")!;
  await optimize(await DeltaTable.open(hooked.inner));
  const adds = await merge.writeFiles([{ ...row(1000), day: "d1" }]);
  await assert.rejects(merge.commitFiles(adds, merge.removesFor([read]), { operation: "MERGE" }), ConcurrentDeleteReadError);
});

test("append-only tables are compacted (dataChange false); tables with deletion vectors or column mapping are refused", async () => {
  const store = new MemoryStore("t");
  const table = await DeltaTable.openOrCreate(store, { schema: SCHEMA, configuration: { "delta.appendOnly": "true" } });
  for (let b = 0; b < 3; b++) await table.append([row(b)]);
  await assert.rejects(table.rewrite([...table.snapshot.files.values()], []), /append-only/);
  assert.equal((await optimize(table)).numAddedFiles, 1);
  for (const protocol of [
    { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["deletionVectors"], writerFeatures: ["deletionVectors"] },
    { minReaderVersion: 2, minWriterVersion: 5 },
  ]) {
    const s = new MemoryStore("x");
    const metaData = { id: "x", format: { provider: "parquet", options: {} }, schemaString: JSON.stringify(SCHEMA), partitionColumns: [], configuration: {}, createdTime: 0 };
    await s.putIfAbsent(commitKey(0), encodeCommit([{ commitInfo: {} }, { protocol }, { metaData }]));
    await assert.rejects(optimize(await DeltaTable.open(s, { anyProtocol: true })), UnsupportedFeaturesError);
  }
});

/** A view of `inner` whose calls `fail` picks (it sees the method, the key, and whether the call was applied yet) throw. */
function failingStore(inner: MemoryStore, fail: (method: string, key: string, applied: boolean) => boolean): ObjectStore {
  return new Proxy(inner, {
    get: (target, prop, receiver) => {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      if (!["get", "put", "putIfAbsent", "delete"].includes(String(prop))) return v.bind(target);
      return async (...args: unknown[]) => {
        const key = String(args[0]);
        if (fail(String(prop), key, false)) throw new Error(`injected: ${String(prop)} ${key} failed`);
        const out = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (fail(String(prop), key, true)) throw new Error(`injected: ${String(prop)} ${key} was applied but its answer was lost`);
        return out;
      };
    },
  });
}

test("a data file that cannot be read in the middle of a bin fails optimize with that error and commits nothing", async () => {
  const inner = new MemoryStore("t");
  const table = await DeltaTable.openOrCreate(inner, { schema: SCHEMA });
  for (let b = 0; b < 12; b++) await table.append([row(2 * b), row(2 * b + 1)]);
  const version = table.version;
  const before = sortRows(await table.readRows(undefined, { timestamps: "micros" }));
  // Reads are in size order: fail the 9th data file read, after chunks of rows went to the encoder.
  let reads = 0;
  const store = failingStore(inner, (method, key, applied) => method === "get" && !applied && key.endsWith(".parquet") && !key.startsWith("_delta_log/") && ++reads === 9);
  await assert.rejects(optimize(await DeltaTable.open(store), { chunkRows: 3 }), /injected: get .* failed/);
  const fresh = await DeltaTable.open(inner);
  assert.equal(fresh.version, version);
  assert.deepEqual(sortRows(await fresh.readRows(undefined, { timestamps: "micros" })), before);
  const data: string[] = [];
  for await (const o of inner.list("")) if (o.key.endsWith(".parquet") && !o.key.startsWith("_delta_log/")) data.push(o.key);
  assert.equal(data.length, 12, "the new file was deleted");
});

test("a commit answered with an error after it was applied keeps its new file: the table never names a missing file", async () => {
  const inner = new MemoryStore("t");
  const table = await DeltaTable.openOrCreate(inner, { schema: SCHEMA });
  for (let b = 0; b < 6; b++) await table.append([row(b)]);
  const before = sortRows(await table.readRows(undefined, { timestamps: "micros" }));
  const next = commitKey(table.version + 1);
  const store = failingStore(inner, (method, key, applied) => method === "putIfAbsent" && applied && key === next);
  await assert.rejects(optimize(await DeltaTable.open(store)), /was applied but its answer was lost/);
  const fresh = await DeltaTable.open(inner);
  assert.equal(fresh.snapshot.files.size, 1, "the commit happened");
  assert.deepEqual(sortRows(await fresh.readRows(undefined, { timestamps: "micros" })), before);
});

test("tiered plan: a tier is compacted at minFiles files, the lowest ready tier first, at most maxBytes, never files of maxBytes / 2 or more", () => {
  const KiB = 1024;
  assert.deepEqual([0, 79 * KiB, 80 * KiB, 799 * KiB, 800 * KiB, 8000 * KiB].map((s) => sizeTier(s, 10)), [0, 0, 1, 1, 2, 3]);
  const tiny = Array.from({ length: 9 }, (_, i) => add(`t${i}`, 5 * KiB));
  const mid = Array.from({ length: 12 }, (_, i) => add(`m${i}`, 100 * KiB));
  const big = Array.from({ length: 20 }, (_, i) => add(`b${i}`, 40 * 1024 * KiB));
  // 9 tiny files: tier 0 is not ready; tier 1 (12 files) is, and the big ones are never taken.
  let bins = planTieredCompaction([...tiny, ...mid, ...big], [], { minFiles: 10, maxBytes: 64 * 1024 * KiB });
  assert.deepEqual(bins.map((b) => b.files.map((f) => f.path).sort()), [mid.map((f) => f.path).sort()]);
  // A 10th tiny file: tier 0 goes first.
  bins = planTieredCompaction([...tiny, add("t9", 6 * KiB), ...mid], [], { minFiles: 10 });
  assert.equal(bins[0]!.files.length, 10);
  assert.ok(bins[0]!.files.every((f) => f.path.startsWith("t")));
  // maxBytes caps a bin (smallest first).
  bins = planTieredCompaction(mid, [], { minFiles: 10, maxBytes: 550 * KiB });
  assert.equal(bins[0]!.files.length, 5);
  // Per partition: 6 + 6 tiny files in two partitions are two tiers of 6, neither ready at 10.
  const parted = [...Array.from({ length: 6 }, (_, i) => add(`a${i}`, KiB, { p: "a" })), ...Array.from({ length: 6 }, (_, i) => add(`b${i}`, KiB, { p: "b" }))];
  assert.deepEqual(planTieredCompaction(parted, ["p"], { minFiles: 10 }), []);
  assert.equal(planTieredCompaction(parted, ["p"], { minFiles: 6 })[0]!.files.length, 6);
});

test("repeated tiered compactions converge: each byte is rewritten a few times, not once per compaction, and the file count stays bounded", () => {
  // 5,000 ingest files of 20 KiB, each followed by as many compactions as the plan asks for;
  // a compaction's output is the sum of its inputs.
  let n = 0;
  const files = new Map<string, Add>();
  let appended = 0;
  let rewritten = 0;
  let maxFiles = 0;
  for (let i = 0; i < 5_000; i++) {
    const f = add(`in${i}`, 20 * 1024);
    files.set(f.path, f);
    appended += f.size;
    for (;;) {
      const [bin] = planTieredCompaction(files.values(), [], { minFiles: 10, maxBytes: 64 * 1024 * 1024 });
      if (!bin) break;
      for (const g of bin.files) files.delete(g.path);
      rewritten += bin.bytes;
      const out = add(`out${n++}`, bin.bytes);
      files.set(out.path, out);
    }
    maxFiles = Math.max(maxFiles, files.size);
  }
  // Tiers of 20 KiB → 200 KiB → 2 MiB → 20 MiB: three rewrites at most (compacting all small
  // files every time rewrites the growing output again and again: about 500 times here).
  assert.ok(rewritten <= 3 * appended, `rewritten ${rewritten} bytes for ${appended} appended`);
  assert.ok(maxFiles <= 4 * 10, `${maxFiles} files at once`);
});
