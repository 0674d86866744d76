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

/** A record put on the stream that is not a valid order event: it must be quarantined once. */
export interface BadRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Uint8Array;
}

/**
 * Fails with counts (`orders: 2998 rows, expected 3000: 2 lost, 0 twice, e.g. ...`) when
 * `rows` and `expected` do not hold the same ids the same number of times; the exact
 * comparison of values follows it, but a diff of thousands of rows says less than this.
 */
export function assertSameIds(table: string, rows: Record<string, unknown>[], expected: Record<string, unknown>[], id: (r: Record<string, unknown>) => string): void {
  const have = new Map<string, number>();
  for (const r of rows) have.set(id(r), (have.get(id(r)) ?? 0) + 1);
  const want = new Set(expected.map(id));
  const twice = [...have].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
  const lost = [...want].filter((k) => !have.has(k));
  const extra = [...have.keys()].filter((k) => !want.has(k));
  if (twice.length || lost.length || extra.length || rows.length !== expected.length) {
    const eg = (xs: string[]) => (xs.length ? ` (e.g. ${xs.slice(0, 3).join(", ")})` : "");
    assert.fail(
      `${table}: ${rows.length} rows, expected ${expected.length}: ${lost.length} lost${eg(lost)}, ` +
        `${twice.length} duplicated${eg(twice)}, ${extra.length} unexpected${eg(extra)}`,
    );
  }
}

/**
 * Checks every table against what the published orders make (expected_tables.ts):
 * events, orders and orders_items hold each row once with the exact values, and each
 * package group's stock was taken exactly once. With `bad`, the quarantine table must hold
 * exactly those records, each once, untouched, with where it came from; without it,
 * quarantine is not looked at.
 */
export async function assertExactlyOnce(
  w: World, bucket: string, orders: Record<string, unknown>[], pkg: { stock: Map<string, number>; rich: Set<string> }, bad?: readonly BadRecord[],
): Promise<void> {
  const expected = expectedTables(orders, pkg.stock, pkg.rich);
  const read = async (table: string) => (await w.delta.request({ op: "read", engine: "deltalake", path: `s3://${bucket}/orders/${table}`, storage: storageOptions(w) })).rows;
  const events = await read("delta/bronze/events");
  const created = events.filter((e) => e.event_type === "ORDER_CREATED");
  assertSameIds("events (ORDER_CREATED)", created, expected.events, (e) => String(e.event_id));
  const ids = events.map((e) => String(e.event_id));
  assert.equal(new Set(ids).size, ids.length, "no event twice");
  assert.equal(created.length, orders.length, "every order event once");
  const inventory = events.filter((e) => e.event_type === "INVENTORY_UPDATED");
  assertSameIds("events (INVENTORY_UPDATED)", inventory, expected.inventoryEvents, (e) => String(e.event_id));
  assert.deepEqual(
    inventory.map((e) => e.event_id).sort(),
    expected.inventoryEvents.map((e) => e.event_id).sort(),
    "INVENTORY_UPDATED once per fully reserved order",
  );
  const orderRows = await read("delta/bronze/orders");
  assertSameIds("orders", orderRows, expected.orders, (r) => String(r.order_id));
  assert.deepEqual(sortBy(orderRows, "order_id"), sortBy(canonicalRows(expected.orders, ordersTable.spec.schema as DeltaStructType), "order_id"), "orders exactly once");
  const itemRows = await read("delta/bronze/orders_items");
  assertSameIds("orders_items", itemRows, expected.orders_items, (r) => String(r.inventory_id));
  assert.deepEqual(sortBy(itemRows, "inventory_id"), sortBy(canonicalRows(expected.orders_items, ordersItemsTable.spec.schema as DeltaStructType), "inventory_id"), "orders_items exactly once");
  for (const r of await read("gold/package_table")) {
    assert.equal(r.stock_quantity, expected.stock.get(`${r.package_id}/${r.subpackage_id}`), `stock of ${r.package_id}/${r.subpackage_id} decremented exactly once`);
  }
  if (bad) await assertQuarantine(w, bucket, bad);
}

/**
 * The quarantine table holds each of `bad` exactly once (matched by shard and sequence
 * number), with its bytes untouched (base64) and its partition key, a reason, and nothing else.
 */
export async function assertQuarantine(w: World, bucket: string, bad: readonly BadRecord[]): Promise<void> {
  let rows: Record<string, unknown>[];
  try {
    rows = (await w.delta.request({ op: "read", engine: "deltalake", path: `s3://${bucket}/orders/delta/bronze/quarantine`, storage: storageOptions(w) })).rows;
  } catch (err) {
    if (bad.length > 0) throw err;
    rows = [];
  }
  const at = (r: { shardId?: unknown; shard_id?: unknown; sequenceNumber?: unknown; sequence_number?: unknown }) =>
    `${String(r.shard_id ?? r.shardId)}/${String(r.sequence_number ?? r.sequenceNumber)}`;
  const wanted = bad.map((b) => ({ ...b, shard_id: b.shardId, sequence_number: b.sequenceNumber }));
  assertSameIds("quarantine", rows, wanted, at);
  const byAt = new Map(rows.map((r) => [at(r), r]));
  for (const b of wanted) {
    const r = byAt.get(at(b))!;
    assert.equal(r.raw_base64, Buffer.from(b.data).toString("base64"), `quarantine ${at(b)}: the raw bytes untouched`);
    assert.equal(r.raw_size, b.data.length, `quarantine ${at(b)}: raw_size`);
    assert.equal(r.partition_key, b.partitionKey, `quarantine ${at(b)}: partition key`);
    assert.ok(typeof r.reason === "string" && r.reason.length > 0, `quarantine ${at(b)}: a reason`);
  }
}
