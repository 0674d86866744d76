/** Checks that the tables hold each published order exactly once (after crashes, restarts, several workers). */
import assert from "node:assert/strict";
import { type CanonicalRow, canonicalRows, type DeltaStructType } from "./canonical_rows.ts";
import { storageOptions, type World } from "./e2e_env.ts";
import { expectedTables } from "./expected_tables.ts";
import { ordersTable } from "../../src/domains/orders/orders_table.ts";
import { ordersItemsTable } from "../../src/domains/orders/orders_items_table.ts";

const sortBy = (rows: CanonicalRow[], id: string) => [...rows].sort((a, b) => String(a[id]).localeCompare(String(b[id])));

export async function tableCount(w: World, bucket: string, table: string): Promise<number> {
  try {
    const res = await w.delta.request({ op: "read", engine: "deltalake", path: `s3://${bucket}/orders/${table}`, storage: storageOptions(w), rows: false });
    return res.count;
  } catch {
    return 0;
  }
}

export async function assertExactlyOnce(
  w: World, bucket: string, orders: Record<string, unknown>[], pkg: { stock: Map<string, number>; rich: Set<string> },
): Promise<void> {
  const expected = expectedTables(orders, pkg.stock, pkg.rich);
  const read = async (table: string) => (await w.delta.request({ op: "read", engine: "deltalake", path: `s3://${bucket}/orders/${table}`, storage: storageOptions(w) })).rows;
  const events = await read("delta/bronze/events");
  const ids = events.map((e) => String(e.event_id));
  assert.equal(new Set(ids).size, ids.length, "no event twice");
  assert.equal(events.filter((e) => e.event_type === "ORDER_CREATED").length, orders.length, "every order event once");
  assert.deepEqual(
    events.filter((e) => e.event_type === "INVENTORY_UPDATED").map((e) => e.event_id).sort(),
    expected.inventoryEvents.map((e) => e.event_id).sort(),
    "INVENTORY_UPDATED once per fully reserved order",
  );
  assert.deepEqual(sortBy(await read("delta/bronze/orders"), "order_id"), sortBy(canonicalRows(expected.orders, ordersTable.spec.schema as DeltaStructType), "order_id"), "orders exactly once");
  assert.deepEqual(sortBy(await read("delta/bronze/orders_items"), "inventory_id"), sortBy(canonicalRows(expected.orders_items, ordersItemsTable.spec.schema as DeltaStructType), "inventory_id"), "orders_items exactly once");
  for (const r of await read("gold/package_table")) {
    assert.equal(r.stock_quantity, expected.stock.get(`${r.package_id}/${r.subpackage_id}`), `stock of ${r.package_id}/${r.subpackage_id} decremented exactly once`);
  }
}
