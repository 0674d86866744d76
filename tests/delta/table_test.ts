import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { tableToRows } from "../../src/core/arrow/arrow_to_rows.ts";
import { rowsToArrow } from "../../src/core/arrow/rows_to_arrow.ts";
import { readParquet, writeParquet } from "../../src/core/parquet/parquet.ts";
import { encodeCommit } from "../../src/core/delta/actions.ts";
import { CHECKPOINT_SCHEMA } from "../../src/core/delta/checkpoint_write.ts";
import { ConcurrentDeleteReadError, ConcurrentTransactionError, MetadataChangedError, TableError } from "../../src/core/delta/errors.ts";
import { commitKey, LOG_DIR } from "../../src/core/delta/log_paths.ts";
import { field, struct } from "../../src/core/schema/schema.ts";
import { loadSnapshot } from "../../src/core/delta/snapshot.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";

const schema = struct(field("id", "long", false), field("name", "string"), field("country", "string"));
const spec = { schema, partitionColumns: ["country"] };

async function logKeys(store: MemoryStore): Promise<string[]> {
  const out: string[] = [];
  for await (const m of store.list(LOG_DIR)) out.push(m.key.slice(LOG_DIR.length));
  return out;
}

test("a created table has protocol 1/2 and metaData at version 0, and appends read back with partition values", async () => {
  const store = new MemoryStore();
  const t = await DeltaTable.openOrCreate(store, spec);
  assert.equal(t.version, 0);
  assert.deepEqual(t.snapshot.protocol, { minReaderVersion: 1, minWriterVersion: 2 });
  const res = await t.append([
    { id: 1, name: "a", country: "ES" },
    { id: 2, name: null, country: "FR" },
    { id: 3, name: "c", country: null },
  ]);
  assert.equal(res.version, 1);
  assert.equal(res.adds.length, 3, "one file per partition");
  const rows = (await (await DeltaTable.open(store)).readRows()).sort((a, b) => Number(a.id) - Number(b.id));
  assert.deepEqual(rows, [
    { id: 1n, name: "a", country: "ES" },
    { id: 2n, name: null, country: "FR" },
    { id: 3n, name: "c", country: null },
  ]);
});

test("an append whose txns are already committed is skipped", async () => {
  const store = new MemoryStore();
  const t = await DeltaTable.openOrCreate(store, spec);
  const first = await t.append([{ id: 1, name: "a", country: "ES" }], { txns: [{ appId: "app/shard-1", version: 1 }] });
  assert.equal(first.version, 1);
  const again = await (await DeltaTable.open(store)).append([{ id: 1, name: "a", country: "ES" }], { txns: [{ appId: "app/shard-1", version: 1 }] });
  assert.equal(again.version, undefined);
  assert.equal((await t.readRows()).length, 1);
  assert.equal(t.snapshot.txnVersion("app/shard-1"), 1);
});

test("a commit that loses a race retries at the next version with the same files", async () => {
  const store = new MemoryStore();
  const a = await DeltaTable.openOrCreate(store, spec);
  const b = await DeltaTable.open(store);
  let lost = 0;
  const c = await DeltaTable.open(store, { onRetry: () => lost++ });
  await a.append([{ id: 1, name: "a", country: "ES" }]);
  await b.append([{ id: 2, name: "b", country: "ES" }]);
  // c's snapshot is at version 0; it has not refreshed: write files, then commit.
  const adds = await c.writeFiles([{ id: 3, name: "c", country: "ES" }]);
  const res = await c.commitFiles(adds, [], { operation: "WRITE" });
  assert.equal(res.version, 3);
  assert.equal(lost, 1);
  const snap = await loadSnapshot(store);
  assert.equal(snap?.files.size, 3);
  assert.ok(snap?.files.has(adds[0]!.path));
});

test("a winner carrying a txn for one of our application ids aborts the commit", async () => {
  const store = new MemoryStore();
  const a = await DeltaTable.openOrCreate(store, spec);
  const b = await DeltaTable.open(store);
  await a.append([{ id: 1, name: "a", country: "ES" }], { txns: [{ appId: "app/shard-1", version: 1 }] });
  const adds = await b.writeFiles([{ id: 1, name: "a", country: "ES" }]);
  await assert.rejects(
    b.commitFiles(adds, [], { operation: "WRITE", txns: [{ appId: "app/shard-1", version: 1 }] }),
    (err: unknown) => err instanceof ConcurrentTransactionError && err.appId === "app/shard-1",
  );
});

test("a rewrite aborts when a concurrent commit removed a file it read", async () => {
  const store = new MemoryStore();
  const a = await DeltaTable.openOrCreate(store, { schema });
  await a.append([{ id: 1, name: "stock", country: "ES" }]);
  const b = await DeltaTable.open(store);
  const file = [...a.snapshot.files.values()][0]!;
  await a.rewrite([file], [{ id: 1, name: "stock-1", country: "ES" }]);
  const adds = await b.writeFiles([{ id: 1, name: "stock-2", country: "ES" }]);
  const removes = [{ path: file.path, deletionTimestamp: Date.now(), dataChange: true }];
  await assert.rejects(b.commitFiles(adds, removes, { operation: "MERGE" }), ConcurrentDeleteReadError);
  assert.deepEqual((await (await DeltaTable.open(store)).readRows()).map((r) => r.name), ["stock-1"]);
});

test("a winner that changes metaData aborts the commit", async () => {
  const store = new MemoryStore();
  const a = await DeltaTable.openOrCreate(store, spec);
  const meta = { ...a.snapshot.metadata!, configuration: { "delta.appendOnly": "false" } };
  await store.putIfAbsent(commitKey(1), encodeCommit([{ metaData: meta }]));
  await assert.rejects(a.commitFiles(await a.writeFiles([{ id: 1, name: "x", country: "ES" }]), [], { operation: "WRITE" }), MetadataChangedError);
});

test("a rewrite replaces files by rows in one commit of remove and add actions", async () => {
  const store = new MemoryStore();
  const t = await DeltaTable.openOrCreate(store, { schema });
  await t.append([{ id: 1, name: "a", country: "ES" }, { id: 2, name: "b", country: "ES" }]);
  const old = [...t.snapshot.files.values()];
  const res = await t.rewrite(old, [{ id: 1, name: "a2", country: "ES" }, { id: 2, name: "b", country: "ES" }], {
    txns: [{ appId: "app/s", version: 1 }],
    operationParameters: { predicate: "id = id" },
  });
  assert.equal(res.removes.length, 1);
  assert.equal(res.removes[0]!.path, old[0]!.path);
  assert.equal(res.removes[0]!.size, old[0]!.size);
  const snap = (await loadSnapshot(store))!;
  assert.equal(snap.files.size, 1);
  assert.ok(snap.tombstones.has(old[0]!.path));
  const text = new TextDecoder().decode(await store.get(commitKey(2)));
  const info = JSON.parse(text.split("\n")[0]!).commitInfo;
  assert.equal(info.operation, "MERGE");
  assert.equal(info.isBlindAppend, false);
  assert.deepEqual((await t.readRows()).map((r) => r.name).sort(), ["a2", "b"]);
});

test("every 10th version gets a checkpoint, and a snapshot loaded from it equals the replayed log", async () => {
  const store = new MemoryStore();
  const t = await DeltaTable.openOrCreate(store, spec);
  for (let i = 1; i <= 25; i++) {
    await t.append([{ id: i, name: `n${i}`, country: i % 2 ? "ES" : "FR" }], { txns: [{ appId: `app/shard-${i % 3}`, version: i }] });
  }
  const keys = await logKeys(store);
  assert.ok(keys.includes("00000000000000000010.checkpoint.parquet"));
  assert.ok(keys.includes("00000000000000000020.checkpoint.parquet"));
  assert.ok(!keys.includes("00000000000000000000.checkpoint.parquet"));
  const last = JSON.parse(new TextDecoder().decode(await store.get(`${LOG_DIR}_last_checkpoint`)));
  assert.equal(last.version, 20);
  assert.equal(last.numOfAddFiles, 20);
  const fromCheckpoint = (await loadSnapshot(store))!;
  assert.equal(fromCheckpoint.version, 25);
  assert.deepEqual([...fromCheckpoint.files.keys()].sort(), [...t.snapshot.files.keys()].sort());
  assert.equal(fromCheckpoint.txnVersion("app/shard-1"), 25);
  assert.equal(fromCheckpoint.txnVersion("app/shard-2"), 23);
  assert.equal(fromCheckpoint.metadata?.schemaString, t.snapshot.metadata?.schemaString);
  const cp = tableToRows(readParquet(await store.get(`${LOG_DIR}00000000000000000020.checkpoint.parquet`)));
  assert.deepEqual(Object.keys(cp[0]!), ["txn", "add", "remove", "metaData", "protocol", "domainMetadata"]);
  assert.ok(cp.every((r) => (r.add as { dataChange?: boolean } | null)?.dataChange !== true), "checkpoint adds have dataChange false");
  assert.equal((await t.readRows()).length, 25);
});

test("a multi-part checkpoint is read as one", async () => {
  const store = new MemoryStore();
  const t = await DeltaTable.openOrCreate(store, { ...spec, configuration: { "delta.checkpointInterval": "1000" } });
  for (let i = 1; i <= 4; i++) await t.append([{ id: i, name: null, country: "ES" }]);
  const rows: Record<string, unknown>[] = [
    { protocol: t.snapshot.protocol },
    { metaData: t.snapshot.metadata },
    ...[...t.snapshot.files.values()].map((add) => ({ add: { ...add, dataChange: false } })),
  ];
  const half = 3;
  for (const [part, slice] of [[1, rows.slice(0, half)], [2, rows.slice(half)]] as const) {
    const bytes = writeParquet([rowsToArrow(CHECKPOINT_SCHEMA, slice).batch]);
    await store.put(`${LOG_DIR}00000000000000000004.checkpoint.000000000${part}.0000000002.parquet`, bytes);
  }
  await store.put(`${LOG_DIR}_last_checkpoint`, new TextEncoder().encode(JSON.stringify({ version: 4, size: rows.length, parts: 2 })));
  // Drop the commits the checkpoint covers: only the checkpoint can give the state now.
  for (let v = 0; v <= 4; v++) await store.delete(commitKey(v));
  const snap = (await loadSnapshot(store))!;
  assert.equal(snap.version, 4);
  assert.equal(snap.files.size, 4);
  assert.equal((await (await DeltaTable.open(store)).readRows()).length, 4);
});

test("expired log files are cleaned up after a checkpoint, and the table still loads", async () => {
  let now = Date.parse("2025-01-01T00:00:00Z");
  const store = new MemoryStore("cleanup", () => now);
  const t = await DeltaTable.openOrCreate(store, { ...spec, configuration: { "delta.logRetentionDuration": "interval 1 day" } }, { now: () => now });
  for (let i = 1; i <= 30; i++) {
    now += 3_600_000 * 3; // three hours per commit
    await t.append([{ id: i, name: null, country: "ES" }]);
  }
  // At version 30 (90 h in) the cutoff is 48 h (66 h rounded down to midnight); the newest
  // commit before it is 16, the newest checkpoint at or before that is 10: 0..9 expire.
  const keys = await logKeys(store);
  for (let v = 0; v < 10; v++) assert.ok(!keys.includes(`0000000000000000000${v}.json`), `version ${v} expired: ${keys.join(" ")}`);
  assert.ok(keys.includes("00000000000000000010.checkpoint.parquet"));
  assert.ok(keys.includes("00000000000000000010.json"), "the checkpoint's own commit stays");
  const snap = (await loadSnapshot(store))!;
  assert.equal(snap.version, 30);
  assert.equal(snap.files.size, 30);
});

test("openOrCreate refuses a table that exists with another schema", async () => {
  const store = new MemoryStore();
  await DeltaTable.openOrCreate(store, spec);
  await assert.rejects(DeltaTable.openOrCreate(store, { schema: struct(field("other", "string")) }), TableError);
  await assert.rejects(DeltaTable.open(new MemoryStore()), /No Delta table/);
});

test("an append-only table takes appends and refuses a rewrite, before writing any file", async () => {
  const store = new MemoryStore();
  const t = await DeltaTable.openOrCreate(store, { ...spec, configuration: { "delta.appendOnly": "true" } });
  await t.append([{ id: 1, name: "a", country: "ES" }]);
  const files = [...t.snapshot.files.values()];
  const objects = async () => {
    let n = 0;
    for await (const _ of store.list("")) n++;
    return n;
  };
  const before = await objects();
  await assert.rejects(t.rewrite(files, [{ id: 1, name: "b", country: "ES" }]), /append-only/);
  assert.equal(await objects(), before);
  assert.equal(t.version, 1);
});

test("openOrCreate refuses a table property set to a value that is not valid", async () => {
  const store = new MemoryStore();
  await assert.rejects(
    DeltaTable.openOrCreate(store, { ...spec, configuration: { "delta.logRetentionDuration": "interval 1 month" } }),
    (err: unknown) => err instanceof TableError && err.message.includes("'delta.logRetentionDuration'"),
  );
  assert.equal(await loadSnapshot(store), undefined, "no table was created");
});

test("rows that do not fit the schema are refused with the column, the type and the value", async () => {
  const t = await DeltaTable.openOrCreate(new MemoryStore(), spec);
  await assert.rejects(t.append([{ id: "seven", name: "x", country: "ES" }]), /Column 'id': expected a long .*got string "seven"/);
  await assert.rejects(t.append([{ id: null, name: "x", country: "ES" }]), /Column 'id' is not nullable/);
});

test("Arrow batches built beforehand are appended one file each, with their statistics and txns", async () => {
  const store = new MemoryStore();
  const t = await DeltaTable.openOrCreate(store, spec);
  const built = [rowsToArrow(t.dataSchema, [{ id: 1, name: "a" }, { id: 2, name: null }]), rowsToArrow(t.dataSchema, [{ id: 3, name: "c" }])];
  const res = await t.appendBatches(built, { partitionValues: { country: "ES" }, txns: [{ appId: "app/s", version: 1 }] });
  assert.equal(res.adds.length, 2);
  assert.deepEqual(res.adds.map((a) => JSON.parse(a.stats!).numRecords), [2, 1]);
  assert.deepEqual(JSON.parse(res.adds[0]!.stats!).nullCount, { id: 0, name: 1 });
  assert.deepEqual((await (await DeltaTable.open(store)).readRows()).map((r) => [Number(r.id), r.country]).sort(), [[1, "ES"], [2, "ES"], [3, "ES"]]);
  assert.equal((await t.appendBatches(built, { partitionValues: { country: "ES" }, txns: [{ appId: "app/s", version: 1 }] })).version, undefined, "already applied");
  await assert.rejects(t.appendBatches(built), /needs a value for partition column 'country'/);
});
