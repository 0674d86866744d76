import assert from "node:assert/strict";
import { test } from "node:test";
import { ColumnTypeError, deltaType, formatText, parseColumnType, parseValueFormat, typeText } from "./column_type.ts";

test("a type text reads primitives, decimals and nested structs, arrays and maps", () => {
  for (const t of ["string", "long", "integer", "double", "boolean", "date", "timestamp"]) assert.equal(parseColumnType(t).kind, t);
  assert.deepEqual(parseColumnType("decimal(10,2)"), { kind: "decimal", precision: 10, scale: 2 });
  assert.deepEqual(parseColumnType(" decimal( 38 , 0 ) "), { kind: "decimal", precision: 38, scale: 0 });
  const t = parseColumnType("struct<os:string, screen:struct<w:integer,h:integer>, `user agent`:string, tags:array<string>, attrs:map<string, double>>");
  assert.equal(typeText(t), "struct<os:string,screen:struct<w:integer,h:integer>,`user agent`:string,tags:array<string>,attrs:map<string,double>>");
  assert.deepEqual(deltaType(parseColumnType("array<struct<sku:string, price:decimal(10,2)>>")), {
    type: "array",
    containsNull: true,
    elementType: {
      type: "struct",
      fields: [
        { name: "sku", type: "string", nullable: true, metadata: {} },
        { name: "price", type: "decimal(10,2)", nullable: true, metadata: {} },
      ],
    },
  });
  assert.deepEqual(deltaType(parseColumnType("map<string,long>")), { type: "map", keyType: "string", valueType: "long", valueContainsNull: true });
});

test("a type text that is not one says where and what was expected", () => {
  const cases: [string, RegExp][] = [
    ["int", /the type 'int' has 'int' at position 1: expected a type: string, long, integer, double, boolean, date, timestamp, decimal\(p,s\), struct<name:type, …>, array<type> or map<string,type>/],
    ["decimal(10)", /has '\)' at position 11: expected ','/],
    ["decimal(39,2)", /expected decimal\(p,s\) with 1 <= p <= 38 and 0 <= s <= p, not decimal\(39,2\)/],
    ["decimal(4,5)", /not decimal\(4,5\)/],
    ["array<string", /has the end at position 13: expected '>'/],
    ["map<long,string>", /expected 'string' \(map keys are JSON object keys, so strings\)/],
    ["struct<>", /expected a field name/],
    ["struct<a:string,A:long>", /readers ignore case\): 'A' is there twice/],
    ["struct<`a:string>", /expected the closing ` of the field name/],
    ["string string", /has 'string' at position 8: expected the end of the type/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseColumnType(text), (err: unknown) => err instanceof ColumnTypeError && message.test(err.message), text);
});

test("a format is iso8601, an epoch unit or a strftime pattern", () => {
  assert.deepEqual(parseValueFormat("iso8601"), { kind: "iso8601" });
  assert.deepEqual(parseValueFormat("epoch_millis"), { kind: "epoch", unit: "millis" });
  assert.equal(formatText(parseValueFormat("epoch_seconds")), "epoch_seconds");
  assert.equal(formatText(parseValueFormat("%Y-%m-%d %H:%M:%S")), "%Y-%m-%d %H:%M:%S");
  assert.throws(() => parseValueFormat("yyyy-MM-dd"), /the format 'yyyy-MM-dd' is not one: expected iso8601, epoch_seconds, epoch_millis, epoch_micros or a pattern like '%Y-%m-%d %H:%M:%S'/);
  assert.throws(() => parseValueFormat("%Y-%m-%d %Q"), (err: unknown) => err instanceof ColumnTypeError && /unknown directive %Q/.test(err.message));
});
