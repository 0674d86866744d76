import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../adapters/memory/memory_store.ts";
import { tableToRows } from "../arrow/arrow_to_rows.ts";
import { readParquet } from "../parquet/parquet.ts";
import { array, decimal, field, struct } from "../schema/schema.ts";
import { parsedStatsSchema, statsParsed } from "./checkpoint_stats.ts";
import { checkpointKey } from "./log_paths.ts";
import { DeltaTable } from "./table.ts";

const SCHEMA = struct(
  field("id", "long"),
  field("name", "string"),
  field("ts", "timestamp"),
  field("price", decimal(10, 2)),
  field("day", "date"),
  field("flag", "boolean"),
  field("nested", struct(field("a", "integer"), field("b", "string"))),
  field("tags", array("string")),
  field("part", "string"),
  field("at", "timestamp"),
);

const ROWS = [
  [
    { id: 1, name: "alpha", ts: "2024-01-01T00:00:00.000001Z", price: "1.00", day: "2024-01-01", flag: true, nested: { a: 1, b: "x" }, tags: ["t"], part: "p/1", at: "2024-05-01T10:00:00.123456Z" },
    { id: 9007199254740993n, name: "n".repeat(40), ts: "2024-01-01T00:00:00.123456Z", price: "99999999.99", day: null, flag: null, nested: null, tags: null, part: "p/1", at: "2024-05-01T10:00:00.123456Z" },
  ],
  [{ id: -5, name: "beta", ts: null, price: null, day: "2023-12-31", flag: false, nested: { a: -7, b: null }, tags: [], part: null, at: null }],
];

/** A partitioned table of two appends with a checkpoint at version 2 (create, append, append). */
async function checkpointed(configuration: Record<string, string> = {}) {
  const store = new MemoryStore("cp");
  const table = await DeltaTable.openOrCreate(store, { schema: SCHEMA, partitionColumns: ["part", "at"], configuration: { "delta.checkpointInterval": "2", ...configuration } });
  for (const rows of ROWS) await table.append(rows);
  const cp = readParquet(await store.get(checkpointKey(2)));
  const adds = tableToRows(cp, { timestamps: "micros" }).map((r) => r.add as Record<string, unknown> | null).filter((a) => a?.path);
  return { table, cp, adds: adds as Record<string, unknown>[] };
}

test("a checkpoint carries each file's stats typed (stats_parsed) beside the JSON, bounds exact beyond 2^53", async () => {
  const { table, cp, adds } = await checkpointed();
  const addType = cp.schema.fields.find((f) => f.name === "add")!.type as { children: { name: string }[] };
  const names = addType.children.map((c) => c.name);
  assert.deepEqual(names.slice(-3), ["stats", "partitionValues_parsed", "stats_parsed"], "where delta-spark puts them");
  assert.equal(adds.length, 2, "one file per partition of each append");
  for (const add of adds) {
    const json = JSON.parse(add.stats as string);
    const parsed = add.stats_parsed as Record<string, Record<string, unknown>>;
    assert.equal(Number(parsed.numRecords), json.numRecords);
    assert.deepEqual(Object.keys(parsed.nullCount!), ["id", "name", "ts", "price", "day", "flag", "nested", "tags"], "every data column has a null count; partition columns none");
    assert.deepEqual(Object.keys(parsed.minValues!), ["id", "name", "ts", "price", "day", "nested"], "booleans and arrays have no bounds");
    for (const [k, v] of Object.entries(json.nullCount as Record<string, unknown>)) {
      if (typeof v === "number") assert.equal(Number(parsed.nullCount![k]), v, `nullCount.${k}`);
    }
  }
  const big = adds.find((a) => (a.stats_parsed as { numRecords: bigint }).numRecords === 2n)!;
  const s = big.stats_parsed as Record<string, Record<string, unknown>>;
  assert.equal(s.maxValues!.id, 9007199254740993n, "a long past 2^53 kept exactly (JSON.parse alone reads ...992)");
  assert.equal(s.minValues!.id, 1n);
  assert.equal(s.maxValues!.price, "99999999.99");
  assert.equal(s.minValues!.ts, 1704067200000000n, "the JSON's millisecond bound, as microseconds");
  assert.equal(s.maxValues!.ts, 1704067200124000n, "max rounded up to the next millisecond, as in the JSON");
  assert.equal(s.maxValues!.name, `${"n".repeat(32)}\u007f`, "the cut max of the JSON");
  assert.deepEqual(s.minValues!.nested, { a: 1, b: "x" });
  assert.deepEqual(s.nullCount!.nested, { a: 1n, b: 1n });
  assert.deepEqual(big.partitionValues_parsed, { part: "p/1", at: 1714557600123456n }, "partition values typed, microseconds kept");
  const nullPart = adds.find((a) => (a.partitionValues_parsed as { part: unknown }).part === null);
  assert.ok(nullPart, "the null partition is a null value");
  // What the JSON would give as a double is not what the table holds.
  assert.notEqual(JSON.parse('{"x":9007199254740993}').x, 9007199254740993n);
  assert.equal(table.version, 2);
});

test("delta.checkpoint.writeStatsAsStruct=false leaves both parsed columns out; writeStatsAsJson=false leaves the JSON out, and the table still reads", async () => {
  const noStruct = await checkpointed({ "delta.checkpoint.writeStatsAsStruct": "false" });
  const noStructAdd = noStruct.cp.schema.fields.find((f) => f.name === "add")!.type as { children: { name: string }[] };
  assert.equal(noStructAdd.children.at(-1)!.name, "stats");
  assert.ok(!noStructAdd.children.some((c) => c.name.endsWith("_parsed")));

  const noJson = await checkpointed({ "delta.checkpoint.writeStatsAsJson": "false" });
  const noJsonAdd = noJson.cp.schema.fields.find((f) => f.name === "add")!.type as { children: { name: string }[] };
  assert.deepEqual(noJsonAdd.children.slice(-2).map((c) => c.name), ["partitionValues_parsed", "stats_parsed"]);
  assert.ok(!noJsonAdd.children.some((c) => c.name === "stats"));
  // Our own reader rebuilds the JSON stats from the struct.
  const reopened = await DeltaTable.open(noJson.table.store);
  for (const add of reopened.snapshot.files.values()) assert.match(add.stats ?? "", /"numRecords":[12]/);
  assert.equal((await reopened.readRows()).length, 3);
});

test("a stats value that does not fit its column is null (unknown to readers), never a wrong bound", () => {
  const schema = parsedStatsSchema(struct(field("i", "integer"), field("d", decimal(4, 2)), field("t", "timestamp"), field("s", "string")), [], 32);
  const add = { path: "f", partitionValues: {}, size: 1, modificationTime: 0, dataChange: true };
  const parsed = statsParsed({ ...add, stats: '{"numRecords":3,"minValues":{"i":1e10,"d":123.456,"t":"yesterday","s":"a"},"maxValues":{"i":5,"d":1.5E1,"t":"2024-01-01T00:00:00.000Z"},"nullCount":{"i":0}}' }, schema)!;
  assert.deepEqual(parsed.minValues, { i: null, d: null, t: null, s: "a" });
  assert.deepEqual(parsed.maxValues, { i: 5, d: "15.00", t: 1704067200000000n, s: null });
  assert.deepEqual(parsed.nullCount, { i: 0n, d: null, t: null, s: null });
  assert.equal(statsParsed({ ...add, stats: "not json" }, schema), null);
  assert.equal(statsParsed(add, schema), null);
});

test("delta.dataSkippingNumIndexedCols bounds the struct stats as it bounds the JSON", () => {
  const schema = parsedStatsSchema(struct(field("a", "long"), field("n", struct(field("x", "long"), field("y", "long"))), field("z", "long")), [], 2);
  assert.deepEqual(schema.nullCounts.fields.map((f) => f.name), ["a", "n"]);
  assert.deepEqual((schema.nullCounts.fields[1]!.type as { fields: { name: string }[] }).fields.map((f) => f.name), ["x"]);
});
