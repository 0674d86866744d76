import assert from "node:assert/strict";
import { test } from "node:test";
import { rowsToArrow } from "../arrow/rows_to_arrow.ts";
import { array, decimal, field, map, struct, type StructType } from "../schema/schema.ts";
import { statsJson, truncateMax } from "./stats.ts";

function stats(schema: StructType, rows: Record<string, unknown>[], numIndexedCols?: number) {
  const built = rowsToArrow(schema, rows);
  return JSON.parse(statsJson(schema, built.stats, rows.length, numIndexedCols === undefined ? {} : { numIndexedCols }));
}

test("stats give numRecords, min, max and nullCount per column, nested like the schema", () => {
  const schema = struct(
    field("id", "long"), field("n", "integer"), field("price", "double"), field("day", "date"),
    field("at", "timestamp"), field("amount", decimal(10, 2)), field("name", "string"), field("ok", "boolean"),
    field("blob", "binary"), field("addr", struct(field("city", "string"), field("lat", "double"))),
    field("tags", array("string")), field("attrs", map("string", "string")),
  );
  const s = stats(schema, [
    { id: 3, n: -1, price: 2.5, day: "2024-03-01", at: "2024-01-01T00:00:00.000500Z", amount: "10.50", name: "b", ok: true, blob: new Uint8Array([1]), addr: { city: "Madrid", lat: 40.4 }, tags: ["x"], attrs: { k: "v" } },
    { id: 9007199254740993n, n: 7, price: -1, day: "2023-12-31", at: "2024-01-02T00:00:00Z", amount: "-3.00", name: "a", ok: false, blob: null, addr: null, tags: null, attrs: null },
    { id: null, n: null, price: null, day: null, at: null, amount: null, name: null, ok: null, blob: null, addr: { city: null, lat: 1 }, tags: [], attrs: {} },
  ]);
  assert.equal(s.numRecords, 3);
  assert.deepEqual(s.minValues, {
    id: 3, n: -1, price: -1, day: "2023-12-31", at: "2024-01-01T00:00:00.000Z", amount: -3, name: "a", addr: { city: "Madrid", lat: 1 },
  });
  assert.deepEqual(s.maxValues, {
    id: 9007199254740992, n: 7, price: 2.5, day: "2024-03-01", at: "2024-01-02T00:00:00.000Z", amount: 10.5, name: "b", addr: { city: "Madrid", lat: 40.4 },
  });
  assert.deepEqual(s.nullCount, {
    id: 1, n: 1, price: 1, day: 1, at: 1, amount: 1, name: 1, ok: 1, blob: 2, addr: { city: 2, lat: 1 }, tags: 1, attrs: 1,
  });
});

test("stats write longs and decimals exactly, beyond what a double holds", () => {
  const schema = struct(field("id", "long"), field("amount", decimal(38, 2)));
  const built = rowsToArrow(schema, [{ id: 9007199254740993n, amount: "12345678901234567890.10" }]);
  const text = statsJson(schema, built.stats, 1);
  assert.match(text, /"id":9007199254740993[,}]/);
  assert.match(text, /"amount":12345678901234567890\.10[,}]/);
});

test("a timestamp max with microseconds is rounded up to the next millisecond", () => {
  const s = stats(struct(field("at", "timestamp")), [{ at: 1_700_000_000_123_456n }]);
  assert.equal(s.minValues.at, "2023-11-14T22:13:20.123Z");
  assert.equal(s.maxValues.at, "2023-11-14T22:13:20.124Z");
});

test("strings longer than 32 characters are cut: min to the prefix, max to a prefix that still bounds it", () => {
  const long = "abcdefghijklmnopqrstuvwxyz0123456789";
  const s = stats(struct(field("s", "string")), [{ s: long }]);
  assert.equal(s.minValues.s, long.slice(0, 32));
  assert.equal(s.maxValues.s, long.slice(0, 32) + "\u007f");
  assert.ok(s.maxValues.s > long);
  const accented = "é".repeat(40);
  assert.equal(truncateMax(accented, 32), "é".repeat(32) + "\u{10FFFF}");
  assert.equal(truncateMax("short", 32), "short");
  assert.equal(truncateMax("\u{10FFFF}".repeat(40), 32), undefined, "no bound within twice the prefix: no max");
});

test("only the first 32 leaf columns get stats, nested leaves counted one by one", () => {
  const fields = Array.from({ length: 30 }, (_, i) => field(`c${i}`, "integer"));
  const schema = struct(...fields, field("s", struct(field("a", "integer"), field("b", "integer"), field("c", "integer"))), field("last", "integer"));
  const row: Record<string, unknown> = { s: { a: 1, b: 2, c: 3 }, last: 9 };
  for (let i = 0; i < 30; i++) row[`c${i}`] = i;
  const s = stats(schema, [row]);
  assert.deepEqual(s.minValues.s, { a: 1, b: 2 });
  assert.equal(s.minValues.last, undefined);
  assert.deepEqual(s.nullCount.s, { a: 0, b: 0 });
  const fewer = stats(schema, [row], 2);
  assert.deepEqual(Object.keys(fewer.nullCount), ["c0", "c1"]);
});

test("float stats are the shortest text of the float32 value; NaN leaves min/max out", () => {
  const s = stats(struct(field("f", "float"), field("d", "double")), [{ f: 0.1, d: NaN }, { f: 2.5, d: 1 }]);
  assert.equal(s.minValues.f, 0.1);
  assert.equal(s.maxValues.f, 2.5);
  assert.equal(s.minValues.d, undefined);
  assert.equal(s.nullCount.d, 0);
});

test("a double column holding ±Infinity gets no bound on that side, and the stats stay valid JSON", () => {
  const schema = struct(field("x", "double"), field("y", "double"));
  const built = rowsToArrow(schema, [{ x: 1.5, y: -Infinity }, { x: Infinity, y: 2 }, { x: -3, y: 4 }]);
  const stats = JSON.parse(statsJson(schema, built.stats, built.numRows));
  assert.deepEqual(stats.minValues, { x: -3 });
  assert.deepEqual(stats.maxValues, { y: 4 });
});
