/**
 * The batch handler on in-memory tables: replays land once and keep the stock decisions
 * of the first attempt; misrouted KPL sub-records and bad records go to quarantine.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import type { UserRecord } from "../../src/core/kinesis/records.ts";
import { DeltaHandler } from "../../src/pipeline/delta_handler.ts";
import { PACKAGE_TABLE } from "../../src/pipeline/processors/package_table.ts";
import type { CommitBatch } from "../../src/pipeline/subscriber.ts";

const enc = new TextEncoder();
const TABLES = ["events", "orders", "orders_items", "quarantine", "package_table"];

function order(id: string, packageId: string, quantity: number): Record<string, unknown> {
  return {
    event_id: `ev-${id}`, event_type: "ORDER_CREATED", event_timestamp: "2025-01-01 10:00:00", order_id: `ord-${id}`,
    order_details: { status: "RECEIVED", items: [{ product_id: "p", quantity, packages: [{ package_id: packageId, subpackage_id: 1, quantity: 1 }] }] },
  };
}

function record(seq: number, data: Uint8Array, extra: Partial<UserRecord> = {}): UserRecord {
  return { data, partitionKey: `k${seq}`, sequenceNumber: String(seq), subSequenceNumber: 0, aggregated: false, ...extra };
}

async function world(stock: number) {
  const stores = Object.fromEntries(TABLES.map((t) => [t, new MemoryStore(t)]));
  const pkg = await DeltaTable.openOrCreate(stores.package_table!, PACKAGE_TABLE.spec);
  await pkg.append([{ package_id: "box", subpackage_id: 1, stock_quantity: stock }]);
  return stores;
}

test("a batch replayed after the MERGE committed keeps its reservation, though the stock has moved since", async () => {
  const stores = await world(5);
  const batch: CommitBatch = {
    shards: [{ shardId: "s-0", appId: "app/s/s-0", batch: 1, records: [record(1, enc.encode(JSON.stringify(order("a", "box", 5))))] }],
    replay: false,
    wallMs: Date.UTC(2025, 0, 1, 12),
  };
  // The first attempt dies after the package_table MERGE, before any other table commits.
  const first = await DeltaHandler.open(stores, { stream: "s", fault: (p) => { if (p === "after-files") throw new Error("crash"); } });
  await assert.rejects(first.commit(batch), /crash/);
  const pkg = await DeltaTable.open(stores.package_table!);
  assert.equal((await pkg.readRows())[0]!.stock_quantity, 0, "the stock was taken");
  // The replay sees 0 in stock: deciding again would say PENDING. The recorded decision says reserved.
  const second = await DeltaHandler.open(stores, { stream: "s" });
  await second.commit({ ...batch, replay: true });
  assert.deepEqual(second.lastOutcome.skipped, ["package_table"]);
  const items = await (await DeltaTable.open(stores.orders_items!)).readRows();
  assert.deepEqual(items.map((r) => r.status), ["PROCESSING"]);
  const orders = await (await DeltaTable.open(stores.orders!)).readRows();
  assert.deepEqual(orders.map((r) => r.status), ["PROCESSING"]);
  const events = await (await DeltaTable.open(stores.events!)).readRows();
  assert.deepEqual(events.map((r) => r.event_type).sort(), ["INVENTORY_UPDATED", "ORDER_CREATED"]);
  assert.equal((await (await DeltaTable.open(stores.package_table!)).readRows())[0]!.stock_quantity, 0, "taken once");
  // A third attempt finds every table done.
  const third = await DeltaHandler.open(stores, { stream: "s" });
  await third.commit({ ...batch, replay: true });
  assert.deepEqual(third.lastOutcome.skipped.sort(), ["events", "orders", "orders_items", "package_table"]);
});

test("stock is decremented only where it covers the batch's whole demand for the group", async () => {
  const stores = await world(7);
  const handler = await DeltaHandler.open(stores, { stream: "s" });
  await handler.commit({
    shards: [{ shardId: "s-0", appId: "app/s/s-0", batch: 1, records: [
      record(1, enc.encode(JSON.stringify(order("a", "box", 4)))),
      record(2, enc.encode(JSON.stringify(order("b", "box", 4)))),
    ] }],
    replay: false,
    wallMs: Date.now(),
  });
  assert.equal((await (await DeltaTable.open(stores.package_table!)).readRows())[0]!.stock_quantity, 7, "8 wanted, 7 in stock: untouched");
  const items = await (await DeltaTable.open(stores.orders_items!)).readRows();
  assert.deepEqual(items.map((r) => r.status), ["PENDING", "PENDING"]);
  const orders = await (await DeltaTable.open(stores.orders!)).readRows();
  assert.deepEqual(orders.map((r) => r.status), ["RECEIVED", "RECEIVED"]);
});

test("bad records and KPL sub-records outside the shard go to quarantine with their reason and bytes", async () => {
  const stores = await world(100);
  const handler = await DeltaHandler.open(stores, { stream: "orders" });
  const misrouted = record(2, enc.encode(JSON.stringify(order("m", "box", 1))), { aggregated: true, subSequenceNumber: 3, outsideShard: true });
  await handler.commit({
    shards: [{ shardId: "s-0", appId: "app/s/s-0", batch: 1, records: [record(1, enc.encode("{oops")), misrouted, record(3, enc.encode(JSON.stringify(order("c", "box", 1))))] }],
    replay: false,
    wallMs: Date.now(),
  });
  const q = (await (await DeltaTable.open(stores.quarantine!)).readRows()).sort((a, b) => String(a.sequence_number).localeCompare(String(b.sequence_number)));
  assert.equal(q.length, 2);
  assert.match(String(q[0]!.reason), /^not JSON/);
  assert.equal(q[0]!.raw_base64, Buffer.from("{oops").toString("base64"));
  assert.match(String(q[1]!.reason), /outside this shard's range/);
  assert.equal(q[1]!.sub_sequence_number, 3n);
  assert.equal((await (await DeltaTable.open(stores.orders!)).readRows()).length, 1, "only the good order");
});
