/**
 * Writing into a table that exists with a schema of its own (another writer's, e.g. the
 * original Spark job's): the table's columns, order, types and partitioning win, values are
 * converted losslessly, and what cannot be written stops `openOrCreate` naming the columns.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { SchemaMismatchError } from "../../src/core/delta/errors.ts";
import { readCommit } from "../../src/core/delta/snapshot.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { field, struct } from "../../src/core/schema/schema.ts";

/** What a producer writes: a timestamp, an integer, a double. */
const produced = { schema: struct(field("id", "string"), field("at", "timestamp"), field("qty", "integer"), field("price", "double")) };

/** The table as another writer made it: strings for timestamps, a long, extra columns, partitioned. */
const theirs = {
  schema: struct(
    field("note", "string"), field("qty", "long"), field("id", "string"), field("at", "string"), field("price", "double"), field("day", "string"),
  ),
  partitionColumns: ["day"],
};

test("an existing table is written in its own schema: converted values, nulls where nothing is produced, its partitioning, right stats", async () => {
  const store = new MemoryStore();
  await DeltaTable.openOrCreate(store, theirs);
  const t = await DeltaTable.openOrCreate(store, produced);
  assert.deepEqual(t.adoption?.map((c) => `${c.field.name}<-${c.from?.name ?? "-"}:${c.how ?? "as is"}`), [
    "note<--:null (not produced)",
    "qty<-qty:integer → long",
    "id<-id:as is",
    "at<-at:timestamp → string ('YYYY-MM-DD HH:MM:SS')",
    "price<-price:as is",
    "day<--:null (not produced)",
  ]);
  const res = await t.append([
    { id: "a", at: 1740816000000000n, qty: 3, price: 1.5 },
    { id: "b", at: 1740816001250000n, qty: null, price: null },
  ]);
  assert.equal(res.adds.length, 1);
  assert.deepEqual(res.adds[0]!.partitionValues, { day: null });
  assert.deepEqual(JSON.parse(res.adds[0]!.stats!), {
    numRecords: 2,
    minValues: { qty: 3, id: "a", at: "2025-03-01 08:00:00", price: 1.5 },
    maxValues: { qty: 3, id: "b", at: "2025-03-01 08:00:01.25", price: 1.5 },
    nullCount: { note: 2, qty: 1, id: 0, at: 0, price: 1 },
  });
  const rows = await (await DeltaTable.open(store)).readRows();
  assert.deepEqual(rows, [
    { note: null, qty: 3n, id: "a", at: "2025-03-01 08:00:00", price: 1.5, day: null },
    { note: null, qty: null, id: "b", at: "2025-03-01 08:00:01.25", price: null, day: null },
  ]);
  assert.equal(t.snapshot.metadata!.schemaString, JSON.stringify(theirs.schema), "the table's schema is unchanged");
});

test("a partition column that is produced gets its value converted", async () => {
  const store = new MemoryStore();
  await DeltaTable.openOrCreate(store, { schema: struct(field("id", "string"), field("at", "string")), partitionColumns: ["at"] });
  const t = await DeltaTable.openOrCreate(store, { schema: struct(field("id", "string"), field("at", "timestamp")) });
  const res = await t.append([{ id: "a", at: 1740816000000000n }]);
  assert.deepEqual(res.adds[0]!.partitionValues, { at: "2025-03-01 08:00:00" });
  assert.match(res.adds[0]!.path, /^at=2025-03-01%2008%253A00%253A00\//);
});

test("a table that cannot take the rows losslessly is refused, naming every column with what was found and expected", async () => {
  const store = new MemoryStore();
  await DeltaTable.openOrCreate(store, { schema: struct(field("id", "string"), field("at", "long"), field("req", "integer", false)) });
  const err = await DeltaTable.openOrCreate(store, produced, { evolveSchema: true }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof SchemaMismatchError, String(err));
  assert.equal(
    err.message,
    "the table at memory://memory exists with a schema that cannot take what is written into it without losing data:\n" +
      "  - at: found long, expected timestamp (no lossless conversion from timestamp to long)\n" +
      "  - req: found integer NOT NULL, expected nothing (the table requires a value and nothing is produced for it)\n" +
      "  - qty: found absent, expected integer (the table has no such column)\n" +
      "  - price: found absent, expected double (the table has no such column)",
  );
  assert.deepEqual(err.missing, ["qty", "price"]);
  assert.equal((await DeltaTable.open(store)).version, 0, "nothing was committed, not even the evolution it could have made");
});

test("missing columns are refused without evolveSchema, and added once with it as Spark's mergeSchema does", async () => {
  const store = new MemoryStore();
  await DeltaTable.openOrCreate(store, { schema: struct(field("id", "string"), field("at", "string")), partitionColumns: ["id"], configuration: { "delta.checkpointInterval": "5" } });
  await assert.rejects(DeltaTable.openOrCreate(store, produced), (e: unknown) => e instanceof SchemaMismatchError && e.missing.join() === "qty,price");
  const before = (await DeltaTable.open(store)).snapshot.metadata!;
  const evolved: string[] = [];
  const t = await DeltaTable.openOrCreate(store, produced, { evolveSchema: true, onSchemaEvolved: (added, v) => evolved.push(`${added.map((f) => f.name).join()}@${v}`) });
  assert.deepEqual(evolved, ["qty,price@1"]);
  const after = t.snapshot.metadata!;
  assert.deepEqual({ ...after, schemaString: "" }, { ...before, schemaString: "" }, "id, partitioning, configuration and createdTime kept");
  assert.deepEqual(t.snapshot.schema, struct(field("id", "string"), field("at", "string"), field("qty", "integer"), field("price", "double")));
  assert.deepEqual(t.snapshot.protocol, { minReaderVersion: 1, minWriterVersion: 2 });
  const commit = await readCommit(store, 1);
  assert.equal(commit![0]!.commitInfo!.operation, "ADD COLUMNS");
  assert.deepEqual(commit!.slice(1), [{ metaData: after }], "one metaData action, nothing else");
  // A second start finds the columns there: no second evolution.
  await DeltaTable.openOrCreate(store, produced, { evolveSchema: true, onSchemaEvolved: () => evolved.push("again") });
  assert.deepEqual(evolved, ["qty,price@1"]);
  await t.append([{ id: "x", at: 0n, qty: 1, price: 2 }]);
  assert.deepEqual(await (await DeltaTable.open(store)).readRows(), [{ id: "x", at: "1970-01-01 00:00:00", qty: 1, price: 2 }]);
});

test("two writers evolving the same table at once add the columns once", async () => {
  const store = new MemoryStore();
  await DeltaTable.openOrCreate(store, { schema: struct(field("id", "string"), field("at", "string")) });
  const [a, b] = await Promise.all([0, 1].map(() => DeltaTable.openOrCreate(store, produced, { evolveSchema: true })));
  const t = await DeltaTable.open(store);
  assert.equal(t.version, 1, "one ADD COLUMNS commit");
  assert.equal(t.snapshot.schema.fields.length, 4);
  assert.equal(a!.snapshot.schema.fields.length, 4);
  assert.equal(b!.snapshot.schema.fields.length, 4);
});

test("a new table still gets the spec's schema and protocol 1/2, written as it is", async () => {
  const store = new MemoryStore();
  const t = await DeltaTable.openOrCreate(store, produced);
  assert.equal(t.adoption, undefined);
  assert.equal(t.snapshot.metadata!.schemaString, JSON.stringify(produced.schema));
  assert.deepEqual(t.snapshot.protocol, { minReaderVersion: 1, minWriterVersion: 2 });
});

test("columns are matched ignoring case, as Spark does, and written under the table's spelling", async () => {
  const store = new MemoryStore();
  await DeltaTable.openOrCreate(store, { schema: struct(field("ID", "string"), field("At", "string")) });
  const t = await DeltaTable.openOrCreate(store, { schema: struct(field("id", "string"), field("at", "timestamp")) });
  await t.append([{ id: "a", at: 0n }]);
  assert.deepEqual(await (await DeltaTable.open(store)).readRows(), [{ ID: "a", At: "1970-01-01 00:00:00" }]);
});
