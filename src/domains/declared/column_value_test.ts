import assert from "node:assert/strict";
import { test } from "node:test";
import { type ColumnType, parseColumnType, parseValueFormat } from "./column_type.ts";
import { type Converted, convertValue, describeValue } from "./column_value.ts";
import { JsonNumber, parseExactJson } from "./exact_json.ts";

const type = (text: string, format?: string): ColumnType => {
  const t = parseColumnType(text);
  return format !== undefined && (t.kind === "date" || t.kind === "timestamp") ? { kind: t.kind, format: parseValueFormat(format) } : t;
};

/** Converts the value of `json` (a JSON text) the way the domain does: plainly, then with the numbers' text when asked. */
function convert(json: string, t: ColumnType): Converted {
  const plain = convertValue(JSON.parse(json), t, false);
  return plain.ok === "needs-text" ? convertValue(parseExactJson(json), t, true) : plain;
}
const value = (json: string, t: ColumnType) => {
  const c = convert(json, t);
  assert.equal(c.ok, true, `${json} as ${JSON.stringify(t)}: ${JSON.stringify(c, (_, v) => (typeof v === "bigint" ? String(v) : v))}`);
  return (c as { value: unknown }).value;
};
/** The refusal's `expected … got …` as the domain words it. */
const refusal = (json: string, t: ColumnType) => {
  const c = convert(json, t);
  assert.equal(c.ok, false, `${json} was accepted`);
  const r = c as Extract<Converted, { ok: false }>;
  return `${r.at.map((s) => (s.kind === "key" ? `.${s.key}` : s.kind === "index" ? `[${s.index}]` : "[*]")).join("")} expected ${r.expected}, got ${describeValue(r.got)}`.trim();
};

test("strings and booleans are taken as they are, and nothing else is", () => {
  assert.equal(value('"héllo"', type("string")), "héllo");
  assert.equal(value("true", type("boolean")), true);
  assert.equal(refusal("42", type("string")), "expected a string, got 42");
  assert.equal(refusal('"true"', type("boolean")), 'expected a boolean (true or false), got "true"');
  assert.equal(refusal("1", type("boolean")), "expected a boolean (true or false), got 1");
});

test("an integer is a whole number within 32 bits", () => {
  assert.equal(value("2147483647", type("integer")), 2147483647);
  assert.equal(value("-2147483648", type("integer")), -2147483648);
  assert.equal(value("3.0", type("integer")), 3);
  const expected = "expected an integer (a whole number from -2147483648 to 2147483647)";
  assert.equal(refusal("2147483648", type("integer")), `${expected}, got 2147483648`);
  assert.equal(refusal("1.5", type("integer")), `${expected}, got 1.5`);
  assert.equal(refusal('"42"', type("integer")), `${expected}, got "42"`);
  assert.equal(refusal("1e400", type("integer")), `${expected}, got 1e400`);
});

test("a long is a whole number within 64 bits, exactly as written beyond 2^53", () => {
  assert.equal(value("42", type("long")), 42);
  assert.equal(value("-0", type("long")), 0);
  assert.equal(value("9007199254740993", type("long")), 9007199254740993n);
  assert.equal(value("9223372036854775807", type("long")), 9223372036854775807n);
  assert.equal(value("-9223372036854775808", type("long")), -9223372036854775808n);
  assert.equal(value("1e18", type("long")), 1_000_000_000_000_000_000n);
  assert.equal(value("12345678901234567890e-1", type("long")), 1234567890123456789n);
  const expected = "expected a long (a whole number from -9223372036854775808 to 9223372036854775807)";
  assert.equal(refusal("9223372036854775808", type("long")), `${expected}, got 9223372036854775808`);
  assert.equal(refusal("-9223372036854775809", type("long")), `${expected}, got -9223372036854775809`);
  assert.equal(refusal("1.5", type("long")), `${expected}, got 1.5`);
  assert.equal(refusal("90071992547409930.5", type("long")), `${expected}, got 90071992547409930.5`);
  assert.equal(refusal('"7"', type("long")), `${expected}, got "7"`);
  assert.equal(refusal("1e999", type("long")), `${expected}, got 1e999`);
});

test("a double is any finite number; 1e400 (Infinity) is refused", () => {
  assert.equal(value("1.25", type("double")), 1.25);
  assert.equal(value("-3", type("double")), -3);
  assert.equal(value("1e308", type("double")), 1e308);
  assert.equal(refusal("1e400", type("double")), "expected a double (a finite number), got 1e400");
  assert.equal(refusal("-1e400", type("double")), "expected a double (a finite number), got -1e400");
  assert.equal(refusal('"1.5"', type("double")), 'expected a double (a finite number), got "1.5"');
});

test("a decimal keeps every digit, from a number or a string, and refuses what overflows or would be rounded", () => {
  const t = type("decimal(10,2)");
  assert.equal(value("12.5", t), "12.50");
  assert.equal(value("-0.01", t), "-0.01");
  assert.equal(value('"12345678.99"', t), "12345678.99");
  assert.equal(value("1.5e2", t), "150.00");
  assert.equal(value("1.230000", t), "1.23");
  assert.equal(value("99999999.99", t), "99999999.99");
  assert.equal(value("12345678901234567890.12", type("decimal(22,2)")), "12345678901234567890.12");
  const expected = "expected a decimal(10,2) (a number, or a string holding one, with at most 8 digits before the point and 2 after)";
  assert.equal(refusal("123456789.1", t), `${expected}, got 123456789.1`);
  assert.equal(refusal("-100000000", t), `${expected}, got -100000000`);
  assert.equal(refusal("1.005", t), `${expected}, got 1.005`);
  assert.equal(refusal("0.1000000000000000055511151231257827", t), `${expected}, got 0.1000000000000000055511151231257827`);
  assert.equal(refusal('"12,5"', t), `${expected}, got "12,5"`);
  assert.equal(refusal("true", t), `${expected}, got true`);
  assert.equal(refusal("1e400", t), `${expected}, got 1e400`);
});

test("a timestamp is read by its format, and must lie in years 0001-9999", () => {
  const us = (iso: string) => BigInt(Date.parse(iso)) * 1000n;
  assert.equal(value('"2025-03-01T08:00:05.123456Z"', type("timestamp")), us("2025-03-01T08:00:05Z") + 123_456n);
  assert.equal(value('"2025-03-01 10:00:05+02:00"', type("timestamp")), us("2025-03-01T08:00:05Z"));
  assert.equal(value('"2025-03-01 08:00:05"', type("timestamp", "%Y-%m-%d %H:%M:%S")), us("2025-03-01T08:00:05Z"));
  assert.equal(value("1740816005123", type("timestamp", "epoch_millis")), us("2025-03-01T08:00:05.123Z"));
  assert.equal(value("1740816005.5", type("timestamp", "epoch_seconds")), us("2025-03-01T08:00:05.500Z"));
  assert.equal(value("1740816005000001", type("timestamp", "epoch_micros")), us("2025-03-01T08:00:05Z") + 1n);
  assert.equal(refusal('"2025-03-01T08:00:05"', type("timestamp", "%Y-%m-%d %H:%M:%S")), `expected a timestamp in the format '%Y-%m-%d %H:%M:%S', got "2025-03-01T08:00:05"`);
  assert.equal(refusal('"2023-02-29 00:00:00"', type("timestamp", "%Y-%m-%d %H:%M:%S")), `expected a timestamp in the format '%Y-%m-%d %H:%M:%S', got "2023-02-29 00:00:00"`);
  assert.equal(refusal('"yesterday"', type("timestamp")), `expected a timestamp as an ISO-8601 string like '2025-03-01T08:00:00Z', got "yesterday"`);
  assert.equal(refusal("1740816005", type("timestamp")), `expected a timestamp as an ISO-8601 string like '2025-03-01T08:00:00Z', got 1740816005`);
  assert.equal(refusal('"1740816005123"', type("timestamp", "epoch_millis")), `expected a timestamp as a number of milliseconds since 1970-01-01 (epoch_millis), got "1740816005123"`);
  assert.equal(refusal("1e400", type("timestamp", "epoch_millis")), `expected a timestamp as a number of milliseconds since 1970-01-01 (epoch_millis), got 1e400`);
  assert.equal(refusal("253402300800", type("timestamp", "epoch_seconds")), `expected a timestamp as a number of seconds since 1970-01-01 (epoch_seconds) between 0001-01-01 and 9999-12-31, got 253402300800`);
  assert.equal(refusal('"0000-12-31T00:00:00Z"', type("timestamp")), `expected a timestamp as an ISO-8601 string like '2025-03-01T08:00:00Z' between 0001-01-01 and 9999-12-31, got "0000-12-31T00:00:00Z"`);
});

test("a date is read by its format: a day, or the UTC day of a timestamp", () => {
  assert.equal(value('"2025-03-01"', type("date")), "2025-03-01");
  assert.equal(value('"2025-03-01T23:30:00-02:00"', type("date")), "2025-03-02");
  assert.equal(value('"2025-03-01 23:59:59"', type("date", "%Y-%m-%d %H:%M:%S")), "2025-03-01");
  assert.equal(value('"01/03/2025"', type("date", "%d/%m/%Y")), "2025-03-01");
  assert.equal(value("-1", type("date", "epoch_millis")), "1969-12-31");
  assert.equal(refusal('"2025-02-30"', type("date")), `expected a date as 'YYYY-MM-DD' or an ISO-8601 timestamp, got "2025-02-30"`);
  assert.equal(refusal('"2025-03-01"', type("date", "%d/%m/%Y")), `expected a date in the format '%d/%m/%Y', got "2025-03-01"`);
  assert.equal(refusal("20250301", type("date")), `expected a date as 'YYYY-MM-DD' or an ISO-8601 timestamp, got 20250301`);
});

test("a struct takes its declared fields, converted, and leaves out the rest", () => {
  const t = type("struct<os:string, screen:struct<w:integer,h:integer>, `user agent`:string, ts:timestamp, price:decimal(5,2)>");
  assert.deepEqual(value('{"os":"iOS","screen":{"w":390,"h":844},"user agent":"UA","ts":"2025-03-01T00:00:00Z","price":1.5,"extra":[1]}', t), {
    os: "iOS", screen: { w: 390, h: 844 }, "user agent": "UA", ts: BigInt(Date.parse("2025-03-01T00:00:00Z")) * 1000n, price: "1.50",
  });
  assert.deepEqual(value('{"screen":null}', t), { os: null, screen: null, "user agent": null, ts: null, price: null });
  const proto = value('{"__proto__":"x"}', type("struct<__proto__:string>")) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.deepEqual(Object.keys(proto), ["__proto__"]);
  assert.equal(refusal('{"screen":{"w":"wide"}}', t), `.screen.w expected an integer (a whole number from -2147483648 to 2147483647), got "wide"`);
  assert.equal(refusal('{"price":1000}', t), `.price expected a decimal(5,2) (a number, or a string holding one, with at most 3 digits before the point and 2 after), got 1000`);
  assert.equal(refusal('[1]', t), `expected an object (struct<os:string,screen:struct<w:integer,h:integer>,\`user agent\`:string,ts:timestamp,price:decimal(5,2)>), got [1]`);
});

test("an array converts each element and keeps nulls; a map converts each value", () => {
  assert.deepEqual(value('["a",null,"b"]', type("array<string>")), ["a", null, "b"]);
  assert.deepEqual(value('[[1,2],[]]', type("array<array<long>>")), [[1, 2], []]);
  assert.deepEqual(value('[9007199254740993]', type("array<long>")), [9007199254740993n]);
  assert.deepEqual(value('{"a":1,"b":null}', type("map<string,long>")), new Map<string, unknown>([["a", 1], ["b", null]]));
  assert.equal(refusal('["a",1]', type("array<string>")), "[1] expected a string, got 1");
  assert.equal(refusal('[{"qty":1.5}]', type("array<struct<qty:integer>>")), "[0].qty expected an integer (a whole number from -2147483648 to 2147483647), got 1.5");
  assert.equal(refusal('{"x":"y"}', type("map<string,double>")), '.x expected a double (a finite number), got "y"');
  assert.equal(refusal('"a,b"', type("array<string>")), 'expected an array (array<string>), got "a,b"');
});

test("without the numbers' text, longs beyond 2^53, decimals and infinities ask for it", () => {
  assert.deepEqual(convertValue(JSON.parse("9007199254740993"), type("long"), false), { ok: "needs-text" });
  assert.deepEqual(convertValue(12.5, type("decimal(4,2)"), false), { ok: "needs-text" });
  assert.deepEqual(convertValue(Infinity, type("double"), false), { ok: "needs-text" });
  assert.deepEqual(convertValue([{ p: 1 }], type("array<struct<p:decimal(3,1)>>"), false), { ok: "needs-text" });
  assert.deepEqual(convertValue(new JsonNumber(12.5, "12.50"), type("decimal(4,2)"), true), { ok: true, value: "12.50" });
  assert.equal(describeValue(new JsonNumber(1, "1.000")), "1.000");
  assert.equal(describeValue("x".repeat(100)), `"${"x".repeat(76)}...`);
});
