import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../adapters/memory/memory_store.ts";
import { DeltaTable } from "../../core/delta/table.ts";
import type { UserRecord } from "../../core/kinesis/records.ts";
import type { Decoded } from "../../engine/domain.ts";
import { DeltaSink } from "../../engine/delta_sink.ts";
import { systemClock } from "../../ports/clock.ts";
import { declaredDomain, type DeclaredRows, tableSpec } from "./declared_domain.ts";
import { parseTablesFile } from "./tables_file.ts";

const FILE = parseTablesFile(`
max_rows_per_record = 5

[tables.views]
location = "views"
partition_by = ["day", "country"]
[tables.views.columns]
event_id = { path = "$.event_id", type = "string", required = true }
at       = { path = "$.ts", type = "timestamp", format = "%Y-%m-%d %H:%M:%S", required = true }
day      = { path = "$.ts", type = "date", format = "%Y-%m-%d %H:%M:%S" }
country  = { path = "$.user['country code']", type = "string" }
user_id  = { path = "$.user.id", type = "long", required = true }
device   = { path = "$.device", type = "struct<os:string, w:integer>" }

[tables.items]
location = "items"
[tables.items.columns]
event_id = { path = "$.event_id", type = "string", required = true }
sku      = { path = "$.cart[*].sku", type = "string", required = true }
first_tag = { path = "$.cart[*].tags[0]", type = "string" }
qty      = { path = "$.cart[*].qty", type = "integer" }
price    = { path = "$.cart[*].price", type = "decimal(6,2)" }
user_id  = { path = "$.user.id", type = "long" }
`, "test.toml");

const enc = new TextEncoder();
let seq = 0;
const record = (data: string | Uint8Array): UserRecord => ({
  data: typeof data === "string" ? enc.encode(data) : data, partitionKey: "k", sequenceNumber: String(++seq), subSequenceNumber: 0, aggregated: false,
});
const event = (over: Record<string, unknown> = {}) => ({
  event_id: "e1", ts: "2025-03-01 23:59:59", user: { id: 7, "country code": "ES" }, device: { os: "iOS", w: 390, extra: true },
  cart: [{ sku: "A", qty: 2, price: "1.50", tags: ["x"] }, { sku: "B", qty: 1, price: 3 }], ...over,
});
const domain = declaredDomain(FILE);
const decode = (data: string | Record<string, unknown>): Decoded<DeclaredRows> => domain.decode(record(typeof data === "string" ? data : JSON.stringify(data)));
const reason = (data: string | Record<string, unknown>) => {
  const d = decode(data);
  assert.equal(d.ok, false, "refused");
  return (d as { reason: string }).reason;
};

test("a record makes a row per table, and one per element in the table that explodes an array", () => {
  const d = decode(event());
  assert.ok(d.ok);
  const [views, items] = d.value;
  assert.equal(views!.length + items!.length, 3);
  assert.deepEqual(views, [{
    event_id: "e1", at: BigInt(Date.UTC(2025, 2, 1, 23, 59, 59)) * 1000n, day: "2025-03-01", country: "ES", user_id: 7, device: { os: "iOS", w: 390 },
  }]);
  assert.deepEqual(items, [
    { event_id: "e1", sku: "A", first_tag: "x", qty: 2, price: "1.50", user_id: 7 },
    { event_id: "e1", sku: "B", first_tag: null, qty: 1, price: "3.00", user_id: 7 },
  ]);
  assert.deepEqual(Object.keys(items![0]!), ["event_id", "sku", "first_tag", "qty", "price", "user_id"], "columns in the file's order");
});

test("an absent, null or empty array makes no rows in the exploding table, and the record still lands", () => {
  for (const cart of [undefined, null, []]) {
    const d = decode(event({ cart }));
    assert.ok(d.ok, String(cart));
    assert.equal(d.value[0]!.length, 1);
    assert.equal(d.value[1]!.length, 0);
  }
});

test("optional values may be absent or null; required ones may not", () => {
  const d = decode(event({ user: { id: 7 }, device: null }));
  assert.ok(d.ok);
  assert.equal(d.value[0]![0]!.country, null);
  assert.equal(d.value[0]![0]!.device, null);
  assert.equal(reason(event({ ts: null })), "views.at ($.ts): required, but the record has no value there");
  assert.equal(reason(event({ cart: [{ qty: 1 }] })), "items.sku ($.cart[0].sku): required, but the record has no value there");
  assert.equal(reason(event({ cart: [null] })), "items.sku ($.cart[0].sku): required, but the record has no value there");
});

test("a record that does not fit one table goes to quarantine whole, naming every table that refused it", () => {
  assert.equal(
    reason(event({ user: { id: "7" } })),
    'views.user_id ($.user.id): expected a long (a whole number from -9223372036854775808 to 9223372036854775807), got "7"; ' +
      'items.user_id ($.user.id): expected a long (a whole number from -9223372036854775808 to 9223372036854775807), got "7"',
  );
  assert.equal(reason(event({ cart: [{ sku: "A", qty: 2.5 }] })), "items.qty ($.cart[0].qty): expected an integer (a whole number from -2147483648 to 2147483647), got 2.5");
  assert.equal(reason(event({ cart: [{ sku: "A", price: 10000 }] })), "items.price ($.cart[0].price): expected a decimal(6,2) (a number, or a string holding one, with at most 4 digits before the point and 2 after), got 10000");
  assert.equal(reason(event({ ts: "2025-03-01T23:59:59Z" })), `views.at ($.ts): expected a timestamp in the format '%Y-%m-%d %H:%M:%S', got "2025-03-01T23:59:59Z"`);
  assert.equal(reason(event({ device: { w: 1e10 } })), "views.device ($.device.w): expected an integer (a whole number from -2147483648 to 2147483647), got 10000000000");
  assert.equal(reason(event({ user: "ana" })), `views.country ($.user['country code']): expected an object at $.user, got "ana"; items.user_id ($.user.id): expected an object at $.user, got "ana"`);
  assert.equal(reason(event({ cart: { sku: "A" } })), `items explodes $.cart: expected an array, got {"sku":"A"}`);
  assert.equal(reason(event({ cart: [{ sku: "A", tags: "x" }] })), `items.first_tag ($.cart[0].tags[0]): expected an array at $.cart[0].tags, got "x"`);
  assert.equal(reason(event({ cart: Array.from({ length: 6 }, () => ({ sku: "A" })) })), "items explodes $.cart: the array has 6 elements, so the record would make 6 rows: at most 5 are allowed (max_rows_per_record)");
});

test("a record that is not a JSON object in UTF-8 is refused before any table", () => {
  assert.equal(reason(""), "empty record: expected a JSON object");
  assert.match(reason("{oops"), /^not JSON \(.+\): expected a JSON object$/);
  assert.equal(reason("[1]"), "expected a JSON object, got an array");
  assert.equal(reason("null"), "expected a JSON object, got null");
  assert.equal(reason('"text"'), 'expected a JSON object, got string "text"');
  assert.equal((domain.decode(record(new Uint8Array([0x7b, 0xff, 0x7d]))) as { reason: string }).reason, "not UTF-8: expected a JSON object in UTF-8");
});

test("longs beyond 2^53 and decimals keep the digits the record wrote, in every table", () => {
  const text = JSON.stringify(event({ cart: [{ sku: "A", price: 0 }] })).replace('"id":7', '"id":9223372036854775807').replace('"price":0', '"price":1234.50');
  const d = decode(text);
  assert.ok(d.ok);
  assert.equal(d.value[0]![0]!.user_id, 9223372036854775807n);
  assert.deepEqual(d.value[1]!.map((r) => [r.user_id, r.price]), [[9223372036854775807n, "1234.50"]]);
  assert.match(reason(text.replace("9223372036854775807", "9223372036854775808")), /views\.user_id \(\$\.user\.id\): expected a long .*, got 9223372036854775808; items\.user_id/);
});

test("the tables are created as declared: columns in order, nullable, partitioned", () => {
  const spec = tableSpec(FILE.tables[0]!);
  assert.deepEqual(spec.schema.fields.map((f) => [f.name, f.type, f.nullable]), [
    ["event_id", "string", true], ["at", "timestamp", true], ["day", "date", true], ["country", "string", true], ["user_id", "long", true],
    ["device", { type: "struct", fields: [{ name: "os", type: "string", nullable: true, metadata: {} }, { name: "w", type: "integer", nullable: true, metadata: {} }] }, true],
  ]);
  assert.deepEqual(spec.partitionColumns, ["day", "country"]);
  assert.equal(domain.prepare, undefined, "no prepare step");
});

test("through the Delta sink: partitioned files, exploded rows, quarantine, and a replay that lands nothing twice", async () => {
  const stores = { views: new MemoryStore("views"), items: new MemoryStore("items"), quarantine: new MemoryStore("quarantine") };
  const records = [
    record(JSON.stringify(event({ event_id: "e1" }))),
    record(JSON.stringify(event({ event_id: "e2", ts: "2025-03-02 00:00:01", user: { id: 8, "country code": null } }))),
    record(JSON.stringify(event({ event_id: "e3", user: { id: 9, "country code": "PT" }, cart: [] }))),
    record(JSON.stringify(event({ event_id: "bad", cart: [{ sku: "A", qty: "two" }] }))),
  ];
  const batch = { shards: [{ shardId: "s-0", appId: "app/s/s-0", batch: 1, records }], replay: false, wallMs: Date.UTC(2025, 2, 2) };
  await (await DeltaSink.open(domain, stores, { stream: "clicks", clock: systemClock })).commit(batch);
  await (await DeltaSink.open(domain, stores, { stream: "clicks", clock: systemClock })).commit({ ...batch, replay: true });

  const views = await DeltaTable.open(stores.views);
  const folders = [...views.snapshot.files.values()].map((f) => f.path.replace(/\/part-.*$/, "")).sort();
  assert.deepEqual(folders, ["day=2025-03-01/country=ES", "day=2025-03-01/country=PT", "day=2025-03-02/country=__HIVE_DEFAULT_PARTITION__"]);
  const viewRows = (await views.readRows()).map((r) => [r.event_id, r.day, r.country, r.user_id]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  assert.deepEqual(viewRows.map((r) => [r[0], r[2], Number(r[3])]), [["e1", "ES", 7], ["e2", null, 8], ["e3", "PT", 9]]);
  const items = (await (await DeltaTable.open(stores.items)).readRows()).map((r) => `${r.event_id}/${r.sku}`).sort();
  assert.deepEqual(items, ["e1/A", "e1/B", "e2/A", "e2/B"]);
  const quarantine = await (await DeltaTable.open(stores.quarantine)).readRows();
  assert.deepEqual(quarantine.map((r) => r.reason), ['items.qty ($.cart[0].qty): expected an integer (a whole number from -2147483648 to 2147483647), got "two"']);
  assert.equal(quarantine[0]!.stream, "clicks");
});
