import assert from "node:assert/strict";
import { test } from "node:test";
import { array, decimal, field, struct } from "./schema.ts";
import { adoptSchema, timestampText, typeText } from "./schema_adoption.ts";

test("the same schema is identical: rows are written as they are", () => {
  const s = struct(field("a", "string"), field("b", "long", false));
  const plan = adoptSchema(s, struct(field("a", "string"), field("b", "long", false)));
  assert.equal(plan.identical, true);
  assert.deepEqual(plan.mismatches, []);
});

test("lossless conversions are planned per column, in the table's order, with nulls for what is not produced", () => {
  const produced = struct(
    field("ts", "timestamp"), field("i", "integer"), field("f", "float"), field("d", decimal(5, 2)), field("day", "date"), field("sh", "short"), field("n", "long"),
  );
  const table = struct(
    field("extra", "string"), field("n", "string"), field("D", decimal(10, 4)), field("day", "timestamp"), field("f", "double"), field("i", "long"),
    field("ts", "string"), field("sh", "float"),
  );
  const plan = adoptSchema(produced, table);
  assert.deepEqual(plan.mismatches, []);
  assert.equal(plan.identical, false);
  assert.deepEqual(plan.columns.map((c) => [c.field.name, c.from?.name, c.how]), [
    ["extra", undefined, "null (not produced)"],
    ["n", "n", "long → string"],
    ["D", "d", "decimal(5,2) → decimal(10,4)"],
    ["day", "day", "date → timestamp"],
    ["f", "f", "float → double"],
    ["i", "i", "integer → long"],
    ["ts", "ts", "timestamp → string ('YYYY-MM-DD HH:MM:SS')"],
    ["sh", "sh", "short → float"],
  ]);
  const convert = (name: string, v: unknown) => plan.columns.find((c) => c.field.name === name)!.convert!(v);
  assert.equal(convert("ts", 1740816000000000n), "2025-03-01 08:00:00");
  assert.equal(convert("ts", 1740816000123400n), "2025-03-01 08:00:00.1234");
  assert.equal(convert("ts", "2025-03-01 08:00:00"), "2025-03-01 08:00:00", "the publisher's form is kept");
  assert.equal(convert("day", "2025-03-01"), 1740787200000000n);
  assert.equal(convert("n", 9007199254740993n), "9007199254740993");
  assert.throws(() => convert("ts", "yesterday"), /Expected a timestamp: got "yesterday"/);
});

test("conversions that could lose data, missing columns and NOT NULL columns without a value are mismatches naming found and expected", () => {
  const produced = struct(field("l", "long"), field("i", "integer"), field("s", "string"), field("d", decimal(10, 2)), field("new", "string"), field("arr", array("string")));
  const table = struct(
    field("l", "integer"), field("i", "float"), field("s", "timestamp"), field("d", decimal(10, 1)), field("req", "integer", false), field("arr", array("string", false)),
  );
  const plan = adoptSchema(produced, table);
  assert.deepEqual(plan.mismatches.map((m) => [m.column, m.found, m.expected, m.missing]), [
    ["l", "integer", "long", false],
    ["i", "float", "integer", false],
    ["s", "timestamp", "string", false],
    ["d", "decimal(10,1)", "decimal(10,2)", false],
    ["req", "integer NOT NULL", "nothing", false],
    ["arr", "array<string NOT NULL>", "array<string>", false],
    ["new", "absent", "string", true],
  ]);
  assert.equal(plan.mismatches[0]!.reason, "an integer cannot hold every long");
  assert.equal(plan.mismatches[1]!.reason, "a float cannot hold every integer exactly");
});

test("a NOT NULL table column takes a produced column only when that one is never null", () => {
  assert.equal(adoptSchema(struct(field("a", "string")), struct(field("a", "string", false))).mismatches[0]!.reason, "the table's column is NOT NULL and the value produced for it may be null");
  assert.deepEqual(adoptSchema(struct(field("a", "string", false)), struct(field("a", "string"))).mismatches, []);
});

test("timestamps are written in the publisher's form, with the fraction only when there is one", () => {
  assert.equal(timestampText(0n), "1970-01-01 00:00:00");
  assert.equal(timestampText(-1n), "1969-12-31 23:59:59.999999");
  assert.equal(timestampText(1_500_000n), "1970-01-01 00:00:01.5");
  assert.equal(typeText(struct(field("a", "integer", false))), "struct<a: integer NOT NULL>");
});
