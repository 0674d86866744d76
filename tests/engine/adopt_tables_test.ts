/**
 * The Delta sink on tables that exist with schemas of their own, as the original PySpark job
 * left them (timestamps as strings, the landing job's package_table): rows are written in
 * each table's schema, the MERGE keeps every column it does not use, and what cannot be
 * written stops the start naming the table and the columns. Both domains go through it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { SchemaMismatchError, TableError } from "../../src/core/delta/errors.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import type { UserRecord } from "../../src/core/kinesis/records.ts";
import { field, struct, type StructType } from "../../src/core/schema/schema.ts";
import { declaredDomain } from "../../src/domains/declared/declared_domain.ts";
import { parseTablesFile } from "../../src/domains/declared/tables_file.ts";
import { orderDomain } from "../../src/domains/orders/order_domain.ts";
import { DeltaSink, type SinkEvents } from "../../src/engine/delta_sink.ts";
import { systemClock } from "../../src/ports/clock.ts";

const enc = new TextEncoder();
const s = (name: string) => field(name, "string");
const i = (name: string) => field(name, "integer");
const d = (name: string) => field(name, "double");
const f = (name: string) => field(name, "float");

/** The original job's tables (all columns nullable, as Delta makes a DataFrame's on write). */
const ORIGINAL: Record<string, StructType> = {
  events: struct(s("event_id"), s("event_type"), s("event_timestamp"), s("order_id")),
  orders: struct(s("order_id"), s("customer_id"), d("total_weight"), d("total_volume"), d("total_price"), s("order_timestamp"), s("status"), d("lat"), d("lon")),
  orders_items: struct(
    s("inventory_id"), s("order_id"), s("product_id"), s("product_name"), d("order_price"), s("package_id"), i("subpackage_id"), i("items_quantity"),
    d("items_weight"), d("items_volume"), s("order_timestamp"), s("status"),
  ),
  /** The landing job's package_table (its latest version: dimensions as floats). */
  package_table: struct(s("package_id"), i("subpackage_id"), s("name"), f("width"), f("height"), f("length"), f("weight"), f("volume"), i("stock_quantity")),
};

function record(seq: number, json: unknown): UserRecord {
  return { data: enc.encode(JSON.stringify(json)), partitionKey: `k${seq}`, sequenceNumber: String(seq), subSequenceNumber: 0, aggregated: false };
}

const order = (id: string, quantity: number) => ({
  event_id: `ev-${id}`, event_type: "ORDER_CREATED", event_timestamp: "2025-03-01 08:00:01", order_id: `ord-${id}`,
  order_details: {
    customer_id: "c1", order_timestamp: "2025-03-01 08:00:00", status: "RECEIVED", total_amount: 9.5,
    items: [{ product_id: "p", product_name: "chair", price: 9.5, quantity, packages: [{ package_id: "10", subpackage_id: 1, quantity: 1, weight: 2.5, volume: null }] }],
  },
});

async function originalTables(packageSchema: StructType = ORIGINAL.package_table!): Promise<Record<string, MemoryStore>> {
  const stores: Record<string, MemoryStore> = {};
  for (const name of ["events", "orders", "orders_items", "quarantine", "package_table"]) stores[name] = new MemoryStore(name);
  for (const name of ["events", "orders", "orders_items"]) await DeltaTable.openOrCreate(stores[name]!, { schema: ORIGINAL[name]! });
  await DeltaTable.openOrCreate(stores.package_table!, { schema: packageSchema });
  return stores;
}

const rowsOf = async (store: MemoryStore) => await (await DeltaTable.open(store)).readRows(undefined, { timestamps: "micros" });

test("the original job's tables are written in their own schemas: timestamps as the publisher's strings, the landing job's columns kept by the MERGE", async () => {
  const stores = await originalTables();
  const pkg = await DeltaTable.open(stores.package_table!);
  await pkg.append([
    { package_id: "10", subpackage_id: 1, name: "box", width: 0.1, height: 2.5, length: 3, weight: 1.25, volume: 7.5, stock_quantity: 1000 },
    { package_id: "11", subpackage_id: 2, name: "other", width: null, height: null, length: null, weight: null, volume: null, stock_quantity: 5 },
  ]);
  const adopted: string[] = [];
  const events: SinkEvents = { tableAdopted: (table, conversions) => adopted.push(`${table}: ${conversions.join("; ")}`) };
  const sink = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock, events });
  assert.deepEqual(adopted, [
    "events: event_timestamp: timestamp → string ('YYYY-MM-DD HH:MM:SS')",
    "orders: order_timestamp: timestamp → string ('YYYY-MM-DD HH:MM:SS')",
    "orders_items: order_timestamp: timestamp → string ('YYYY-MM-DD HH:MM:SS')",
  ]);
  await sink.commit({ shards: [{ shardId: "s-0", appId: "a/s/s-0", batch: 1, records: [record(1, order("a", 4))] }], replay: false, wallMs: Date.UTC(2025, 2, 1, 9) });

  const ev = await rowsOf(stores.events!);
  assert.deepEqual(ev.map((r) => [r.event_type, r.event_timestamp]), [["ORDER_CREATED", "2025-03-01 08:00:01"], ["INVENTORY_UPDATED", "2025-03-01 09:00:00"]]);
  const orders = await rowsOf(stores.orders!);
  assert.deepEqual(orders.map((r) => [r.order_id, r.order_timestamp, r.status, r.total_price]), [["ord-a", "2025-03-01 08:00:00", "PROCESSING", 9.5]]);
  const items = await rowsOf(stores.orders_items!);
  assert.deepEqual(items.map((r) => [r.inventory_id, r.order_timestamp, r.items_quantity, r.items_weight, r.status]), [["inv-a-0-0", "2025-03-01 08:00:00", 4, 10, "PROCESSING"]]);
  const packages = await rowsOf(stores.package_table!);
  assert.deepEqual(packages, [
    { package_id: "10", subpackage_id: 1, name: "box", width: Math.fround(0.1), height: 2.5, length: 3, weight: 1.25, volume: 7.5, stock_quantity: 996 },
    { package_id: "11", subpackage_id: 2, name: "other", width: null, height: null, length: null, weight: null, volume: null, stock_quantity: 5 },
  ]);
  const table = await DeltaTable.open(stores.package_table!);
  assert.equal(table.snapshot.metadata!.schemaString, JSON.stringify(ORIGINAL.package_table), "package_table's schema is its own still");
  for (const name of ["events", "orders", "orders_items"]) {
    assert.equal((await DeltaTable.open(stores[name]!)).snapshot.metadata!.schemaString, JSON.stringify(ORIGINAL[name]), `${name}'s schema unchanged`);
  }
});

test("the MERGE keeps columns of every type it does not use, exactly, and takes a long stock_quantity", async () => {
  const schema = struct(
    s("package_id"), field("subpackage_id", "long"), field("stock_quantity", "long"), field("loaded_at", "timestamp"), field("price", "decimal(10,2)"),
    field("dims", struct(f("w"), f("h"))), field("tags", { type: "array", elementType: "string", containsNull: true }), field("day", "date"),
  );
  const stores = await originalTables(schema);
  const before = {
    package_id: "10", subpackage_id: 1n, stock_quantity: 50n, loaded_at: 1740816000123456n, price: "12.34",
    dims: { w: 1.5, h: null }, tags: ["a", null], day: "2025-03-01",
  };
  await (await DeltaTable.open(stores.package_table!)).append([before]);
  const sink = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock });
  await sink.commit({ shards: [{ shardId: "s-0", appId: "a/s/s-0", batch: 1, records: [record(1, order("a", 4))] }], replay: false, wallMs: Date.now() });
  assert.deepEqual(await rowsOf(stores.package_table!), [{ ...before, stock_quantity: 46n }]);
});

test("a package_table without the MERGE's columns, or with unusable types, is refused at start naming each", async () => {
  const stores = await originalTables(struct(s("package_id"), field("subpackage_id", "string"), s("name"), d("stock_quantity")));
  await assert.rejects(DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock }), (err: unknown) => {
    assert.ok(err instanceof TableError);
    assert.equal(
      err.message,
      "The package_table at memory://package_table cannot take the stock MERGE, which reads and writes package_id, subpackage_id and stock_quantity (its other columns are kept as they are):\n" +
        "  - subpackage_id: found string, expected integer or short or byte or long\n" +
        "  - stock_quantity: found double, expected integer or short or byte or long\n" +
        "Load the inventory into a table with these columns (data-subscriber tables init-packages, or the landing job), or point PACKAGE_TABLE at one.",
    );
    return true;
  });
  const missing = await originalTables(struct(s("name"), i("subpackage_id"), i("stock_quantity")));
  await assert.rejects(DeltaSink.open(orderDomain(), missing, { stream: "s", clock: systemClock }), /  - package_id: missing, expected string\n/);
});

test("the MERGE honours another engine's deletion vector: deleted rows are neither counted nor written back, and the file leaves with its vector", async () => {
  const stores = await originalTables();
  const pkg = await DeltaTable.open(stores.package_table!);
  // 30 rows in one file; a DELETE elsewhere marked rows 3, 4, 7, 11, 18 and 29 (delta-kernel-rs's inline vector).
  const rows = Array.from({ length: 30 }, (_, k) => ({
    package_id: k === 5 ? "10" : k === 4 ? "11" : `p${k}`, subpackage_id: 1, name: `n${k}`, width: null, height: null, length: null, weight: null, volume: null, stock_quantity: k === 5 ? 50 : 70,
  }));
  await pkg.append(rows);
  const [file] = [...pkg.snapshot.files.values()];
  const dv = { storageType: "i", pathOrInlineDv: "^Bg9^0rr910000000000iXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L", sizeInBytes: 44, cardinality: 6 };
  const deleteCommit = [{ commitInfo: { timestamp: 1, operation: "DELETE" } }, { remove: { path: file!.path, dataChange: true, deletionTimestamp: 1 } }, { add: { ...file!, deletionVector: dv } }];
  await stores.package_table!.put(`_delta_log/${String(pkg.version + 1).padStart(20, "0")}.json`, enc.encode(deleteCommit.map((a) => JSON.stringify(a)).join("\n") + "\n"));
  const sink = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock });
  await sink.commit({ shards: [{ shardId: "s-0", appId: "a/s/s-0", batch: 1, records: [record(1, order("a", 4)), record(2, { ...order("b", 1), order_details: { ...order("b", 1).order_details, items: [{ ...order("b", 1).order_details.items[0], packages: [{ package_id: "11", subpackage_id: 1, quantity: 1, weight: 1, volume: null }] }] } })] }], replay: false, wallMs: Date.now() });
  const after = await rowsOf(stores.package_table!);
  assert.equal(after.length, 24, "the 6 deleted rows stay deleted");
  assert.equal(after.find((r) => r.package_id === "10")?.stock_quantity, 46, "stock taken from the live row");
  assert.equal(after.find((r) => r.package_id === "11"), undefined, "a deleted row gives no stock and is not written back");
  const final = await DeltaTable.open(stores.package_table!);
  const last = new TextDecoder().decode(await stores.package_table!.get(`_delta_log/${String(final.version).padStart(20, "0")}.json`));
  const removed = last.split("\n").filter((l) => l.includes('"remove"')).map((l) => JSON.parse(l).remove);
  assert.deepEqual(removed.map((r: { deletionVector?: unknown }) => r.deletionVector), [dv], "the remove names the vector");
});

test("an append-only package_table is refused at start: the MERGE would remove the files it rewrites", async () => {
  const stores = await originalTables();
  stores.package_table = new MemoryStore("package_table");
  await DeltaTable.openOrCreate(stores.package_table, { schema: ORIGINAL.package_table!, configuration: { "delta.appendOnly": "true" } });
  await assert.rejects(DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock }), (err: unknown) => {
    assert.ok(err instanceof TableError);
    assert.match(err.message, /cannot take the stock MERGE/);
    assert.match(err.message, /  - the table is append-only \('delta\.appendOnly' is true\)/);
    return true;
  });
});

test("a table whose schema cannot take the rows stops the start, naming the table, each column, found and expected", async () => {
  const stores = await originalTables();
  // An orders table someone changed: order_timestamp a long, and a NOT NULL column nobody writes.
  stores.orders = new MemoryStore("orders");
  await DeltaTable.openOrCreate(stores.orders, { schema: struct(s("order_id"), field("order_timestamp", "long"), field("region", "string", false)) });
  const err = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock, writer: { evolveSchema: true } }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof SchemaMismatchError, String(err));
  assert.deepEqual(err.tables.map((t) => t.table), ["orders"]);
  assert.match(err.message, /^the orders table at memory:\/\/orders exists with a schema that cannot take what is written into it without losing data:\n/);
  assert.match(err.message, /\n  - order_timestamp: found long, expected timestamp \(no lossless conversion from timestamp to long\)/);
  assert.match(err.message, /\n  - region: found string NOT NULL, expected nothing \(the table requires a value and nothing is produced for it\)/);
  assert.match(err.message, /\n  - customer_id: found absent, expected string \(the table has no such column\)/);
  assert.deepEqual(err.missing, ["customer_id", "total_weight", "total_volume", "total_price", "status", "lat", "lon"]);
});

test("the declared domain adopts an existing table the same way, and evolves it when asked", async () => {
  const file = parseTablesFile(
    `[tables.clicks]\nlocation = "clicks"\n[tables.clicks.columns]\nuser = { path = "$.user", type = "string" }\nat = { path = "$.at", type = "timestamp" }\nn = { path = "$.n", type = "integer" }\n`,
    "tables.toml",
  );
  const domain = declaredDomain(file);
  const stores = { clicks: new MemoryStore("clicks"), quarantine: new MemoryStore("quarantine") };
  await DeltaTable.openOrCreate(stores.clicks, { schema: struct(s("user"), s("at"), field("n", "long"), s("source")) });
  const sink = await DeltaSink.open(domain, stores, { stream: "s", clock: systemClock });
  await sink.commit({ shards: [{ shardId: "s-0", appId: "a/s/s-0", batch: 1, records: [record(1, { user: "u", at: "2025-03-01T08:00:00Z", n: 3 })] }], replay: false, wallMs: Date.now() });
  assert.deepEqual(await rowsOf(stores.clicks), [{ user: "u", at: "2025-03-01 08:00:00", n: 3n, source: null }]);

  const narrow = { clicks: new MemoryStore("clicks"), quarantine: new MemoryStore("quarantine") };
  await DeltaTable.openOrCreate(narrow.clicks, { schema: struct(s("user")) });
  await assert.rejects(DeltaSink.open(domain, narrow, { stream: "s", clock: systemClock }), (e: unknown) => e instanceof SchemaMismatchError && e.tables[0]!.table === "clicks" && e.missing.join() === "at,n");
  const evolved: string[] = [];
  await DeltaSink.open(domain, narrow, { stream: "s", clock: systemClock, writer: { evolveSchema: true }, events: { schemaEvolved: (t, c, v) => evolved.push(`${t}:${c.join()}@${v}`) } });
  assert.deepEqual(evolved, ["clicks:at,n@1"]);
});

test("with schema evolution asked, no table is evolved while another table refuses the start, and both are named", async () => {
  const stores = await originalTables();
  stores.events = new MemoryStore("events");
  await DeltaTable.openOrCreate(stores.events, { schema: struct(s("event_id"), s("event_type"), s("event_timestamp")) });
  stores.orders = new MemoryStore("orders");
  await DeltaTable.openOrCreate(stores.orders, { schema: struct(s("order_id"), field("order_timestamp", "long")) });
  const err = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock, writer: { evolveSchema: true } }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof SchemaMismatchError, String(err));
  assert.deepEqual(err.tables.map((t) => t.table), ["events", "orders"]);
  assert.match(err.message, /^the events table at memory:\/\/events .*\n  - order_id: found absent, expected string \(the table has no such column\)\nthe orders table at memory:\/\/orders /);
  assert.equal((await DeltaTable.open(stores.events)).version, 0, "events not evolved");
  // Once orders is fixed (here: a new location), the evolution of events goes ahead.
  stores.orders = new MemoryStore("orders_v2");
  await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock, writer: { evolveSchema: true } });
  const events = await DeltaTable.open(stores.events);
  assert.equal(events.version, 1);
  assert.deepEqual(events.snapshot.schema.fields.map((f) => f.name), ["event_id", "event_type", "event_timestamp", "order_id"]);
});
