import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../adapters/memory/memory_store.ts";
import type { Metadata, Protocol } from "./actions.ts";
import { TableError } from "./errors.ts";
import { commitKey } from "./log_paths.ts";
import { unsupportedForWrite } from "./protocol_support.ts";
import { rowsToArrow } from "../arrow/rows_to_arrow.ts";
import { readParquet, writeParquet } from "../parquet/parquet.ts";
import { CHECKPOINT_SCHEMA } from "./checkpoint_write.ts";
import { field, struct } from "../schema/schema.ts";
import { tableToRows } from "../arrow/arrow_to_rows.ts";
import { DeltaTable, ROW_ORIGIN } from "./table.ts";

const enc = new TextEncoder();

function metadata(fields: unknown[], configuration: Record<string, string> = {}): Metadata {
  return {
    id: "5b0f1d2e-0000-4000-8000-000000000001",
    format: { provider: "parquet", options: {} },
    schemaString: JSON.stringify({ type: "struct", fields }),
    partitionColumns: [],
    configuration,
    createdTime: 0,
  };
}

const ID = { name: "id", type: "long", nullable: true, metadata: {} };
const NAME = { name: "name", type: "string", nullable: true, metadata: {} };

/** A table as another engine created it: version 0 with this protocol and metadata. */
async function tableWith(protocol: Protocol, meta: Metadata): Promise<MemoryStore> {
  const store = new MemoryStore("t");
  const commit = [{ commitInfo: { timestamp: 0, operation: "CREATE TABLE" } }, { protocol }, { metaData: meta }].map((a) => JSON.stringify(a)).join("\n");
  await store.put(commitKey(0), enc.encode(commit + "\n"));
  return store;
}

test("writer 7 with features whose writes ask nothing of us is written into, its protocol unchanged", async () => {
  const protocol: Protocol = {
    minReaderVersion: 3,
    minWriterVersion: 7,
    readerFeatures: ["timestampNtz", "vacuumProtocolCheck", "deletionVectors"],
    writerFeatures: ["deletionVectors", "appendOnly", "invariants", "checkConstraints", "generatedColumns", "identityColumns", "changeDataFeed", "timestampNtz", "vacuumProtocolCheck"],
  };
  const store = await tableWith(protocol, metadata([ID, NAME]));
  const table = await DeltaTable.open(store);
  await table.append([{ id: 1, name: "a" }]);
  const again = await DeltaTable.open(store);
  assert.deepEqual(again.snapshot.protocol, protocol);
  assert.equal((await again.readRows()).length, 1);
});

test("legacy writer versions 3 and 4 (constraints, generated columns, change data feed) are written into while unused", async () => {
  for (const minWriterVersion of [3, 4]) {
    const store = await tableWith({ minReaderVersion: 1, minWriterVersion }, metadata([ID]));
    const table = await DeltaTable.open(store);
    await table.append([{ id: 1 }]);
    assert.equal(table.version, 1);
  }
});

test("each feature or use a write cannot honour is refused at open, by name", async () => {
  const cases: [Protocol, Metadata, RegExp][] = [
    [{ minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["typeWidening"], writerFeatures: ["typeWidening"] }, metadata([ID]), /reader feature typeWidening; writer feature typeWidening/],
    [{ minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ["clustering", "domainMetadata"] }, metadata([ID]), /writer feature clustering\. /],
    [{ minReaderVersion: 2, minWriterVersion: 5 }, metadata([ID], { "delta.columnMapping.mode": "id" }), /column mapping in id mode/],
    [{ minReaderVersion: 1, minWriterVersion: 3 }, metadata([ID], { "delta.constraints.positive": "id > 0" }), /CHECK constraints positive \(id > 0\)/],
    [{ minReaderVersion: 1, minWriterVersion: 4 }, metadata([ID], { "delta.enableChangeDataFeed": "true" }), /change data feed/],
    [{ minReaderVersion: 1, minWriterVersion: 4 }, metadata([ID, { ...NAME, metadata: { "delta.generationExpression": "upper(id)" } }]), /generated column name \(upper\(id\)\)/],
    [{ minReaderVersion: 1, minWriterVersion: 2 }, metadata([{ ...ID, metadata: { "delta.invariants": "{\"expression\":{\"expression\":\"id > 0\"}}" } }]), /the invariant on column id/],
    [{ minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ["identityColumns"] }, metadata([{ ...ID, metadata: { "delta.identity.start": 1, "delta.identity.step": 1 } }]), /identity column id/],
    [{ minReaderVersion: 4, minWriterVersion: 8 }, metadata([ID]), /reader version 4; writer version 8/],
  ];
  for (const [protocol, meta, reason] of cases) {
    const store = await tableWith(protocol, meta);
    await assert.rejects(DeltaTable.open(store), (err: unknown) => {
      assert.ok(err instanceof TableError, String(err));
      assert.match(err.message, reason);
      assert.match(err.message, /new location/);
      return true;
    });
  }
});

test("a nested column's generated expression is found too", () => {
  const nested = { name: "n", type: { type: "struct", fields: [{ name: "g", type: "long", nullable: true, metadata: { "delta.generationExpression": "1" } }] }, nullable: true, metadata: {} };
  assert.deepEqual(unsupportedForWrite({ minReaderVersion: 1, minWriterVersion: 4 }, metadata([ID, nested])), ["generated column n.g (1)"]);
});

test("in-commit timestamps: each commit's commitInfo comes first with one after the previous commit's, whatever the clock says, also from a checkpoint", async () => {
  const protocol: Protocol = { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ["inCommitTimestamp", "domainMetadata"] };
  const store = await tableWith(protocol, metadata([ID], { "delta.enableInCommitTimestamps": "true", "delta.checkpointInterval": "2" }));
  // The creating commit's in-commit timestamp lies ahead of the clock we write with.
  const created = new TextDecoder().decode(await store.get(commitKey(0))).replace('"timestamp":0', '"inCommitTimestamp":5000000,"timestamp":5000000');
  await store.put(commitKey(0), enc.encode(created));
  let clock = 1000;
  const table = await DeltaTable.open(store, { now: () => clock });
  await table.append([{ id: 1 }]);
  await table.append([{ id: 2 }]); // version 2: a checkpoint
  const again = await DeltaTable.open(store, { now: () => clock });
  assert.equal(again.snapshot.lastInCommitTimestamp, undefined, "loaded from the checkpoint: the commit file tells");
  await again.append([{ id: 3 }]);
  clock = 9_000_000;
  await again.append([{ id: 4 }]);
  const icts: number[] = [];
  for (let v = 1; v <= 4; v++) {
    const lines = new TextDecoder().decode(await store.get(commitKey(v))).trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines[0].commitInfo, `version ${v}: commitInfo first`);
    assert.equal(Object.keys(lines[0].commitInfo)[0], "inCommitTimestamp");
    icts.push(lines[0].commitInfo.inCommitTimestamp);
  }
  assert.deepEqual(icts, [5000001, 5000002, 5000003, 9000000], "after the previous one while the clock lags (the checkpoint's version's read from its commit), the clock's once it is ahead");
});

test("domains (domainMetadata) are kept in our checkpoints, a removed one dropped", async () => {
  const protocol: Protocol = { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ["domainMetadata"] };
  const store = await tableWith(protocol, metadata([ID], { "delta.checkpointInterval": "2" }));
  const domain = (name: string, removed = false) => JSON.stringify({ domainMetadata: { domain: name, configuration: `{"of":"${name}"}`, removed } });
  await store.put(commitKey(1), enc.encode([JSON.stringify({ commitInfo: { timestamp: 1 } }), domain("app.kept"), domain("app.gone")].join("\n") + "\n"));
  await store.put(commitKey(2), enc.encode([JSON.stringify({ commitInfo: { timestamp: 2 } }), domain("app.gone", true)].join("\n") + "\n"));
  const table = await DeltaTable.open(store);
  await table.append([{ id: 1 }]);
  await table.append([{ id: 2 }]); // version 4: a checkpoint
  for (let v = 0; v < 4; v++) await store.delete(commitKey(v));
  const again = await DeltaTable.open(store);
  assert.deepEqual([...again.snapshot.domains.values()], [{ domain: "app.kept", configuration: '{"of":"app.kept"}', removed: false }]);
});

test("row tracking: appended files get the ids after the high-water mark and their version, the mark moves; a rewrite is refused", async () => {
  const protocol: Protocol = { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ["rowTracking", "domainMetadata"] };
  const store = await tableWith(protocol, metadata([ID]));
  const mark = JSON.stringify({ domainMetadata: { domain: "delta.rowTracking", configuration: '{"rowIdHighWaterMark":41}', removed: false } });
  await store.put(commitKey(1), enc.encode(`${JSON.stringify({ commitInfo: { timestamp: 1 } })}\n${mark}\n`));
  const table = await DeltaTable.open(store);
  await table.append([{ id: 1 }, { id: 2 }, { id: 3 }]);
  await table.append([{ id: 4 }]);
  const files = [...table.snapshot.files.values()].sort((a, b) => Number(a.baseRowId) - Number(b.baseRowId));
  assert.deepEqual(files.map((f) => [f.baseRowId, f.defaultRowCommitVersion]), [[42, 2], [45, 3]]);
  assert.equal(table.snapshot.domains.get("delta.rowTracking")?.configuration, '{"rowIdHighWaterMark":45}');
  await assert.rejects(table.rewrite(files, [{ id: 1 }]), /tracks row ids \(the rowTracking feature\) but names no materialized row id/);
});

test("row tracking with materialized columns: a rewrite keeps every row's id, and the commit version of the rows it did not change", async () => {
  const protocol: Protocol = { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ["rowTracking", "domainMetadata"] };
  const config = { "delta.rowTracking.materializedRowIdColumnName": "_row-id-col-x", "delta.rowTracking.materializedRowCommitVersionColumnName": "_row-commit-version-col-x" };
  const store = await tableWith(protocol, metadata([ID, NAME], config));
  const table = await DeltaTable.open(store);
  await table.append([{ id: 1, name: "a" }, { id: 2, name: "b" }]); // ids 0, 1 at version 1
  await table.append([{ id: 3, name: "c" }]); // id 2 at version 2
  const files = [...table.snapshot.files.values()];
  const rows = await table.readRows(files);
  await table.rewrite(files, rows.map((r) => (r.id === 2n ? { ...r, name: "B" } : r))); // version 3
  const [file] = [...table.snapshot.files.values()];
  const raw = tableToRows(readParquet(await store.get(file!.path)), { timestamps: "micros" });
  const seen = raw.map((r) => [r.id, r["_row-id-col-x"], r["_row-commit-version-col-x"]]).sort((a, b) => Number(a[0]) - Number(b[0]));
  assert.deepEqual(seen, [[1n, 0n, 1n], [2n, 1n, null], [3n, 2n, 2n]], "ids kept; the changed row's version left to the new file's (3)");
  assert.equal(file!.defaultRowCommitVersion, 3);
  // Read again, the rows have the ids they had.
  const again = await DeltaTable.open(store);
  const ids = (await again.readRows()).map((r) => (r as Record<symbol, { id: bigint }>)[ROW_ORIGIN]!.id).sort();
  assert.deepEqual(ids, [0n, 1n, 2n]);
});

test("column mapping in name mode: files, stats and partition values under the physical names, rows read back logical, a new column gets the next id", async () => {
  const mapped = (name: string, type: string, id: number) => ({ name, type, nullable: true, metadata: { "delta.columnMapping.id": id, "delta.columnMapping.physicalName": `col-${name}-phys` } });
  const nested = { name: "n", type: { type: "struct", fields: [mapped("a", "long", 3)] }, nullable: true, metadata: { "delta.columnMapping.id": 4, "delta.columnMapping.physicalName": "col-n-phys" } };
  const meta = { ...metadata([mapped("id", "long", 1), mapped("part", "string", 2), nested], { "delta.columnMapping.mode": "name", "delta.columnMapping.maxColumnId": "4", "delta.checkpointInterval": "2" }), partitionColumns: ["part"] };
  const store = await tableWith({ minReaderVersion: 2, minWriterVersion: 5 }, meta);
  const table = await DeltaTable.open(store);
  await table.append([{ id: 1, part: "x", n: { a: 7 } }, { id: 2, part: null, n: null }]);
  const files = [...table.snapshot.files.values()];
  for (const f of files) {
    assert.deepEqual(Object.keys(f.partitionValues), ["col-part-phys"]);
    assert.match(f.path, /^col-part-phys=/);
    assert.deepEqual(Object.keys(JSON.parse(f.stats!).nullCount), ["col-id-phys", "col-n-phys"]);
    const parquet = readParquet(await store.get(f.path.split("/").map(decodeURIComponent).join("/")));
    assert.deepEqual(parquet.schema.fields.map((x) => x.name), ["col-id-phys", "col-n-phys"]);
    assert.equal(parquet.schema.fields[0]!.metadata.get("PARQUET:field_id"), "1");
  }
  const rows = (await table.readRows()).map((r) => JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? Number(v) : v))).sort();
  assert.deepEqual(rows, ['{"id":1,"part":"x","n":{"a":7}}', '{"id":2,"part":null,"n":null}']);
  // Version 2: the checkpoint's typed stats are keyed by the physical names too.
  await table.append([{ id: 3, part: "x", n: null }]);
  const again = await DeltaTable.open(store);
  assert.equal((await again.readRows()).length, 3);
  // A column the writer adds (--evolve-schema) gets id 5 and a physical name of its own.
  const produced = struct(field("id", "long"), field("part", "string"), field("n", struct(field("a", "long"))), field("extra", "string"));
  const evolved = await DeltaTable.openOrCreate(store, { schema: produced, partitionColumns: ["part"] }, { evolveSchema: true });
  const extra = evolved.snapshot.schema.fields.find((f) => f.name === "extra")!;
  assert.equal(extra.metadata["delta.columnMapping.id"], 5);
  assert.match(String(extra.metadata["delta.columnMapping.physicalName"]), /^col-[0-9a-f-]{36}$/);
  assert.equal(evolved.snapshot.metadata!.configuration["delta.columnMapping.maxColumnId"], "5");
  await evolved.append([{ id: 4, part: "y", n: null, extra: "e" }]);
  const last = [...evolved.snapshot.files.values()].find((f) => f.partitionValues["col-part-phys"] === "y")!;
  assert.ok(Object.keys(JSON.parse(last.stats!).nullCount).includes(String(extra.metadata["delta.columnMapping.physicalName"])));
  assert.deepEqual((await evolved.readRows([last])).map((r) => r.extra), ["e"]);
});

test("a V2 checkpoint (UUID-named, JSON) with its adds in a sidecar is what the table loads from", async () => {
  const protocol: Protocol = { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["v2Checkpoint"], writerFeatures: ["v2Checkpoint"] };
  const store = await tableWith(protocol, metadata([ID]));
  const table = await DeltaTable.open(store);
  await table.append([{ id: 1 }, { id: 2 }]);
  const [add] = [...table.snapshot.files.values()];
  // Version 1's checkpoint as Spark writes one: the non-file actions in JSON, the adds in a sidecar.
  const addType = CHECKPOINT_SCHEMA.fields.find((f) => f.name === "add")!;
  const sidecar = writeParquet([rowsToArrow(struct(addType), [{ add: { ...add, dataChange: false } }]).batch], { codec: "snappy" });
  await store.put("_delta_log/_sidecars/00000000000000000001.checkpoint.0000000001.0000000001.5a1b.parquet", sidecar);
  const lines = [
    { checkpointMetadata: { version: 1 } },
    { protocol },
    { metaData: table.snapshot.metadata },
    { sidecar: { path: "00000000000000000001.checkpoint.0000000001.0000000001.5a1b.parquet", sizeInBytes: sidecar.length, modificationTime: 0 } },
  ];
  await store.put("_delta_log/00000000000000000001.checkpoint.3a0d65cd-4ba7-4b6e-9b2b-4c0f2f1b7e11.json", enc.encode(lines.map((l) => JSON.stringify(l)).join("\n") + "\n"));
  await store.delete(commitKey(0));
  await store.delete(commitKey(1));
  const again = await DeltaTable.open(store);
  assert.equal(again.version, 1);
  assert.deepEqual((await again.readRows()).map((r) => Number(r.id)).sort(), [1, 2]);
});
