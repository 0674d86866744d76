import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalRows, canonicalValue, type DeltaStructType, type DeltaType, timestampsToMillis } from "./canonical_rows.ts";

const field = (name: string, type: DeltaType) => ({ name, type, nullable: true, metadata: {} });
const SCHEMA: DeltaStructType = {
  type: "struct",
  fields: [
    field("id", "integer"), field("l", "long"), field("d", "double"), field("f", "float"), field("dec", "decimal(10,2)"),
    field("dt", "date"), field("ts", "timestamp"), field("ntz", "timestamp_ntz"), field("bin", "binary"), field("bo", "boolean"),
    field("st", { type: "struct", fields: [field("a", "integer"), field("s", "string")] }),
    field("arr", { type: "array", elementType: "string", containsNull: true }),
    field("m", { type: "map", keyType: "string", valueType: "integer", valueContainsNull: true }),
  ],
};

/** A row as this library reads it (`DeltaTable.readRows` with `timestamps: "micros"`). */
const ours = {
  id: 1, l: 2n ** 62n, d: -0, f: 0.1, dec: "12.3", dt: new Date(Date.UTC(2024, 1, 29)), ts: 1_704_164_645_123_456n,
  ntz: 1_704_164_645_000_000n, bin: new Uint8Array([0, 1, 255]), bo: true, st: { a: 1, s: "x" }, arr: ["a", null],
  m: new Map([["b", 2], ["a", 1]]),
};
/** The same row in the Delta worker's wire form (tests/interop/py/worker_common.py). */
const wire = {
  id: 1, l: 4611686018427387904, d: -0, f: 0.10000000149011612, dec: "12.30", dt: "2024-02-29", ts: "2024-01-02T03:04:05.123456+00:00",
  ntz: "2024-01-02T03:04:05", bin: "AAH/", bo: true, st: { a: 1, s: "x" }, arr: ["a", null], m: [["b", 2], ["a", 1]],
};

test("a row this library read and the same row in the worker's wire form have one canonical form", () => {
  const expected = {
    id: 1, l: 4611686018427387904, d: 0, f: 0.10000000149011612, dec: "12.30", dt: "2024-02-29", ts: "2024-01-02T03:04:05.123456Z",
    ntz: "2024-01-02T03:04:05.000000", bin: "AAH/", bo: true, st: { a: 1, s: "x" }, arr: ["a", null], m: [["a", 1], ["b", 2]],
  };
  assert.deepEqual(canonicalRows([ours], SCHEMA), [expected]);
  assert.deepEqual(canonicalRows([wire], SCHEMA), [expected]);
});

test("rows that differ in any one value stay different", () => {
  const other: Record<string, unknown> = {
    id: 2, l: 2n ** 62n + 1024n, d: 1e-300, f: 0.2, dec: "12.31", dt: "2024-03-01", ts: "2024-01-02T03:04:05.123457Z",
    ntz: "2024-01-02T03:04:05.000001", bin: "AAH+", bo: false, st: { a: 1, s: "y" }, arr: ["a", ""], m: [["a", 1], ["b", null]],
  };
  const base = canonicalRows([wire], SCHEMA);
  for (const [name, value] of Object.entries(other)) {
    assert.notDeepEqual(canonicalRows([{ ...wire, [name]: value }], SCHEMA), base, `a different ${name}`);
    assert.notDeepEqual(canonicalRows([{ ...wire, [name]: null }], SCHEMA), base, `a null ${name}`);
  }
});

test("timestamps in any zone or precision become UTC with six fraction digits", () => {
  const ts = (v: unknown, t = "timestamp") => canonicalValue(v, t);
  assert.equal(ts("2024-01-02T05:04:05.5+02:00"), "2024-01-02T03:04:05.500000Z");
  assert.equal(ts("2024-01-01T23:00:00-01:30"), "2024-01-02T00:30:00.000000Z");
  assert.equal(ts("2024-01-02T03:04:05.123456789Z"), "2024-01-02T03:04:05.123456Z");
  assert.equal(ts("1969-12-31T23:59:59.999999"), "1969-12-31T23:59:59.999999Z");
  assert.equal(ts(-1n), "1969-12-31T23:59:59.999999Z");
  assert.equal(ts("0099-01-01T00:00:00+00:00"), "0099-01-01T00:00:00.000000Z");
  assert.equal(ts(new Date("2262-04-11T23:47:16.854Z"), "timestamp_ntz"), "2262-04-11T23:47:16.854000");
});

test("floats, decimals and binary take one spelling each", () => {
  assert.deepEqual(["NaN", "Infinity", "-Infinity", -0].map((v) => canonicalValue(v, "double")), ["NaN", "Infinity", "-Infinity", 0]);
  assert.deepEqual([NaN, Infinity].map((v) => canonicalValue(v, "float")), ["NaN", "Infinity"]);
  assert.deepEqual(["-0.00", "0", "1.5", "-.5", 3n].map((v) => canonicalValue(v, "decimal(10,2)")), ["0.00", "0.00", "1.50", "-0.50", "3.00"]);
  assert.equal(canonicalValue("AAH/", "binary"), canonicalValue(new Uint8Array([0, 1, 255]), "binary"));
});

test("map pairs sort by key, numbers numerically; rows sort by their JSON text", () => {
  const m: DeltaType = { type: "map", keyType: "integer", valueType: "string", valueContainsNull: true };
  assert.deepEqual(canonicalValue([[10, "ten"], [9, "nine"], [-1, "minus"]], m), [[-1, "minus"], [9, "nine"], [10, "ten"]]);
  const s: DeltaStructType = { type: "struct", fields: [field("k", "string")] };
  assert.deepEqual(canonicalRows([{ k: "😀" }, { k: "b" }, { k: "\uE000" }, { k: "a" }], s), [{ k: "a" }, { k: "b" }, { k: "😀" }, { k: "\uE000" }]);
});

test("a value that does not fit its type is refused, not passed through", () => {
  assert.throws(() => canonicalValue("nan", "double"), /bad float/);
  assert.throws(() => canonicalValue("1.5", "long"), /bad integer/);
  assert.throws(() => canonicalValue("02/29/2024", "date"), /bad date/);
  assert.throws(() => canonicalValue("yesterday", "timestamp"), /bad timestamp/);
  assert.throws(() => canonicalValue("1e3", "decimal(10,2)"), /bad decimal/);
  assert.throws(() => canonicalValue(1, "interval"), /unsupported type/);
});

test("timestampsToMillis rounds every timestamp half up to the millisecond, as Trino reads it, and leaves timestamp_ntz", () => {
  const s: DeltaStructType = {
    type: "struct",
    fields: [
      field("id", "integer"), field("ts", "timestamp"), field("ntz", "timestamp_ntz"),
      field("st", { type: "struct", fields: [field("t", "timestamp")] }),
      field("arr", { type: "array", elementType: "timestamp", containsNull: true }),
    ],
  };
  const rows = canonicalRows([
    { id: 1, ts: "2024-06-01T12:00:00.999999Z", ntz: "2024-06-01T12:00:00.999999", st: { t: "2024-01-02T03:04:05.123456Z" }, arr: ["2024-01-01T00:00:00.000500Z", null] },
    { id: 2, ts: "1969-12-31T23:59:59.999999Z", ntz: null, st: null, arr: ["1969-12-31T23:59:59.999500Z", "1969-12-31T23:59:59.999499Z"] },
  ], s);
  assert.deepEqual(timestampsToMillis(rows, s), canonicalRows([
    { id: 1, ts: "2024-06-01T12:00:01Z", ntz: "2024-06-01T12:00:00.999999", st: { t: "2024-01-02T03:04:05.123Z" }, arr: ["2024-01-01T00:00:00.001Z", null] },
    { id: 2, ts: "1970-01-01T00:00:00Z", ntz: null, st: null, arr: ["1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z"] },
  ], s));
});
