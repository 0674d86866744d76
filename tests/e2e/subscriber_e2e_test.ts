/**
 * End to end: orders and bad records on kinesis-local, `data-subscriber run --once` with
 * tables on moto S3; delta-rs reads the tables back and they hold exactly what the orders
 * imply, computed independently here.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../helpers/cli.ts";
import { canonicalRows, type CanonicalRow, type DeltaStructType } from "../helpers/canonical_rows.ts";
import { cliEnv, enc, makeOrders, putAll, richAndPoorPackages, startWorld, storageOptions, type World } from "../helpers/e2e_env.ts";
import { expectedTables } from "../helpers/expected_tables.ts";
import { eventsTable } from "../../src/domains/orders/events_table.ts";
import { ordersTable } from "../../src/domains/orders/orders_table.ts";
import { ordersItemsTable } from "../../src/domains/orders/orders_items_table.ts";

/** 50 records that are not valid order events, each with the reason fragment it must get. */
function badRecords(): { data: Uint8Array; key: string; reason: RegExp }[] {
  const out: { data: Uint8Array; key: string; reason: RegExp }[] = [];
  const good = (over: Record<string, unknown>) => ({ event_id: "ev-x", event_type: "ORDER_CREATED", order_id: "ord-x", ...over });
  for (let i = 0; i < 12; i++) out.push({ data: enc.encode(['{"event_id": "ev-1",', "not json at all", "{]", '{"order_id": "o"'][i % 4]!), key: `broken-${i}`, reason: /^not JSON/ });
  for (let i = 0; i < 4; i++) out.push({ data: enc.encode(JSON.stringify(good({ order_id: 1000 + i }))), key: `type-a-${i}`, reason: /^order_id: / });
  for (let i = 0; i < 4; i++) out.push({ data: enc.encode(JSON.stringify(good({ order_details: { items: [{ quantity: "two" }] } }))), key: `type-b-${i}`, reason: /^order_details\.items\.0\.quantity: / });
  for (let i = 0; i < 4; i++) out.push({ data: enc.encode(JSON.stringify(good({ event_timestamp: "yesterday" }))), key: `type-c-${i}`, reason: /^event_timestamp: expected a timestamp/ });
  for (let i = 0; i < 4; i++) out.push({ data: enc.encode(JSON.stringify(good({ order_details: { destination_address: { lat: "north" } } }))), key: `type-d-${i}`, reason: /^order_details\.destination_address\.lat: / });
  for (let i = 0; i < 8; i++) out.push({ data: new Uint8Array(0), key: `empty-${i}`, reason: /^empty record/ });
  for (let i = 0; i < 4; i++) out.push({ data: enc.encode(["[1,2]", "null", "42", '"text"'][i]!), key: `shape-${i}`, reason: /^expected a JSON object/ });
  for (let i = 0; i < 4; i++) out.push({ data: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), key: `utf8-${i}`, reason: /^not UTF-8/ });
  for (let i = 0; i < 5; i++) out.push({ data: enc.encode(JSON.stringify({ event_type: "ORDER_CREATED", order_id: "o" })), key: `missing-${i}`, reason: /^event_id: / });
  out.push({ data: enc.encode("{" + "x".repeat(1_000_000 - 2) + "}"), key: "one-megabyte", reason: /^not JSON/ });
  return out;
}

/** Rows as the worker returns them, without the fields that depend on batch time. */
const sortById = (rows: CanonicalRow[], id: string) => [...rows].sort((a, b) => String(a[id]).localeCompare(String(b[id])));

describe("data-subscriber end to end", () => {
  let w: World;
  before(async () => (w = await startWorld()));
  after(() => w?.stop());

  test("5,000 orders and 50 bad records land exactly as the orders imply, and --once exits 0", async () => {
    const stream = "orders-e2e";
    await w.kinesis.createStream(stream, 4);
    const bucket = await w.moto.bucket("e2e");
    const env = cliEnv(w, { STREAM_NAME: stream, TABLES_ROOT: `s3://${bucket}` });
    const pkg = richAndPoorPackages();
    const pkgFile = path.join(w.tmp, "packages.json");
    await fs.writeFile(pkgFile, JSON.stringify(pkg.rows));
    const init = await runCli(["tables", "init-packages", "--from", pkgFile], env);
    assert.equal(init.code, 0, init.stderr);

    const orders = makeOrders(5000, 11);
    const bad = badRecords();
    assert.equal(bad.length, 50);
    const records: { data: Uint8Array; key: string }[] = orders.map((o) => ({ data: enc.encode(JSON.stringify(o)), key: String(o.order_id) }));
    bad.forEach((b, i) => records.splice(100 * i + 37, 0, { data: b.data, key: b.key }));
    await putAll(w, stream, records);

    const started = Date.now();
    const run = await runCli(["run", "--once", "--max-batch-records", "1000"], env);
    assert.equal(run.code, 0, `run --once failed:\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /Done in [\d.]+ s: 5050 records committed/);
    const finished = Date.now();

    const expected = expectedTables(orders, pkg.stock, pkg.rich);
    const read = (table: string) =>
      w.delta.request({ op: "read", engine: "deltalake", path: `s3://${bucket}/orders/${table}`, storage: storageOptions(w) });

    const events = await read("delta/bronze/events");
    const orderEvents = events.rows.filter((r) => r.event_type === "ORDER_CREATED");
    assert.deepEqual(sortById(orderEvents, "event_id"), sortById(canonicalRows(expected.events, eventsTable.spec.schema as DeltaStructType), "event_id"));
    const inventory = events.rows.filter((r) => r.event_type === "INVENTORY_UPDATED");
    assert.ok(expected.inventoryEvents.length > 100, `enough fully reserved orders to test (${expected.inventoryEvents.length})`);
    assert.deepEqual(sortById(inventory.map(({ event_timestamp: _, ...r }) => r), "event_id"), sortById(expected.inventoryEvents as CanonicalRow[], "event_id"));
    for (const e of inventory) {
      const t = Date.parse(String(e.event_timestamp));
      assert.ok(t >= started - 1000 && t <= finished + 1000, `INVENTORY_UPDATED at batch time: ${e.event_timestamp}`);
    }
    assert.equal(events.rows.length, 5000 + expected.inventoryEvents.length);

    const ordersRows = await read("delta/bronze/orders");
    assert.deepEqual(sortById(ordersRows.rows, "order_id"), sortById(canonicalRows(expected.orders, ordersTable.spec.schema as DeltaStructType), "order_id"));

    const items = await read("delta/bronze/orders_items");
    assert.equal(items.rows.length, expected.orders_items.length);
    assert.deepEqual(sortById(items.rows, "inventory_id"), sortById(canonicalRows(expected.orders_items, ordersItemsTable.spec.schema as DeltaStructType), "inventory_id"));

    const packages = await read("gold/package_table");
    for (const r of packages.rows) {
      assert.equal(r.stock_quantity, expected.stock.get(`${r.package_id}/${r.subpackage_id}`), `stock of ${r.package_id}/${r.subpackage_id}`);
    }

    const quarantine = await read("delta/bronze/quarantine");
    assert.equal(quarantine.rows.length, 50);
    for (const b of bad) {
      const row = quarantine.rows.find((r) => r.partition_key === b.key);
      assert.ok(row, `quarantined ${b.key}`);
      assert.equal(row.raw_base64, Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength).toString("base64"), `raw bytes of ${b.key} kept`);
      assert.match(String(row.reason), b.reason, `reason of ${b.key}`);
      assert.equal(row.stream, stream);
      assert.match(String(row.sequence_number), /^\d{20,}$/);
    }
  });
});
