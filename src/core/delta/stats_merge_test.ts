import assert from "node:assert/strict";
import { test } from "node:test";
import { rowsToArrow } from "../arrow/rows_to_arrow.ts";
import { field, struct } from "../schema/schema.ts";
import { statsJson } from "./stats.ts";
import { mergeStatsJson } from "./stats_merge.ts";

const SCHEMA = struct(
  field("id", "long"),
  field("big", "long"),
  field("price", "decimal(12,2)"),
  field("name", "string"),
  field("at", "timestamp"),
  field("day", "date"),
  field("x", "double"),
  field("f", "float"),
  field("flag", "boolean"),
  field("s", struct(field("a", "integer"), field("b", "string"))),
);

function row(i: number): Record<string, unknown> {
  return {
    id: 1000 - i,
    big: BigInt(2) ** 60n + BigInt(i),
    price: `${i}.${String(i % 100).padStart(2, "0")}`,
    name: i % 5 === 0 ? null : `${"long-prefix-".repeat(3)}${i % 2 ? "\u{1F600}" : "z"}${i}`,
    at: 1_735_689_600_000_123n + BigInt(i) * 1_000_777n,
    day: `2025-01-${String((i % 28) + 1).padStart(2, "0")}`,
    x: i % 7 === 0 ? null : i / 3,
    f: Math.fround(i / 7),
    flag: i % 2 === 0,
    s: i % 4 === 0 ? null : { a: i, b: `b${i}` },
  };
}

const stats = (rows: Record<string, unknown>[]) => statsJson(SCHEMA, rowsToArrow(SCHEMA, rows).stats, rows.length);

test("merged stats of files are the stats of all their rows written at once: strings cut, timestamps rounded, decimals and longs beyond 2^53 as written", () => {
  const rows = Array.from({ length: 60 }, (_, i) => row(i));
  const parts = [rows.slice(0, 7), rows.slice(7, 8), rows.slice(8, 33), rows.slice(33)];
  assert.equal(mergeStatsJson(SCHEMA, parts.map(stats)), stats(rows));
  assert.equal(mergeStatsJson(SCHEMA, parts.map(stats), { numIndexedCols: 4 }), statsJson(SCHEMA, rowsToArrow(SCHEMA, rows).stats, rows.length, { numIndexedCols: 4 }));
  // A file of nulls only in a column: no bound from it.
  const nulls = [{ ...row(1), name: null }, { ...row(2), name: null }];
  assert.equal(mergeStatsJson(SCHEMA, [stats(nulls), stats(rows.slice(3, 9))]), stats([...nulls, ...rows.slice(3, 9)]));
});

test("stats that cannot be merged exactly are not: a file without stats, a column with values and no bound (NaN)", () => {
  const a = stats([row(1), row(2)]);
  assert.equal(mergeStatsJson(SCHEMA, [a, undefined]), undefined);
  assert.equal(mergeStatsJson(SCHEMA, [a, null]), undefined);
  assert.equal(mergeStatsJson(SCHEMA, [a, "{not json"]), undefined);
  const nan = stats([{ ...row(3), x: Number.NaN }]);
  assert.doesNotMatch(nan, /"minValues":\{[^}]*"x"/);
  assert.equal(mergeStatsJson(SCHEMA, [a, nan]), undefined);
  assert.equal(mergeStatsJson(SCHEMA, [a, a.replace('"numRecords":2', '"numRecords":2,"tightBounds":false')]), undefined);
});
