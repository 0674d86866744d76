/**
 * What the tables must hold for a list of published orders, computed here independently
 * of src/pipeline. To make stock outcomes independent of how records fall into batches,
 * the tests give every package group either ample stock (always enough) or none (never).
 */
import { createHash } from "node:crypto";

type Json = Record<string, any>; // deno-lint-ignore no-explicit-any

/** `YYYY-MM-DD HH:MM:SS` (UTC) as a canonical timestamp (canonical_rows.ts). */
function ts(s: string | null | undefined): string | null {
  if (!s) return null;
  return `${s.replace(" ", "T")}.000000Z`;
}

/** Name-based UUID (SHA-1, version 5 layout), written from the RFC, not from src/. */
function uuid5(name: string): string {
  const b = createHash("sha1").update(name).digest();
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.subarray(0, 16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export interface Expected {
  events: Json[];
  orders: Json[];
  orders_items: Json[];
  /** INVENTORY_UPDATED events, without their batch-time timestamp. */
  inventoryEvents: Json[];
  /** Stock after, per "package_id/subpackage_id". */
  stock: Map<string, number>;
}

/**
 * @param rich package groups ("package_id/subpackage_id") with ample stock; every other
 *   group has none.
 */
export function expectedTables(orders: Json[], stockBefore: Map<string, number>, rich: Set<string>): Expected {
  const events: Json[] = [];
  const out: Json[] = [];
  const items: Json[] = [];
  const inventoryEvents: Json[] = [];
  const stock = new Map(stockBefore);
  for (const o of orders) {
    const d = o.order_details ?? {};
    events.push({ event_id: o.event_id, event_type: o.event_type, event_timestamp: ts(o.event_timestamp), order_id: o.order_id });
    let all = true;
    let any = false;
    (d.items ?? []).forEach((item: Json, i: number) => {
      (item.packages ?? []).forEach((p: Json, j: number) => {
        const q = item.quantity * p.quantity;
        const group = `${p.package_id}/${p.subpackage_id}`;
        const reserved = rich.has(group);
        any = true;
        all &&= reserved;
        if (reserved) stock.set(group, stock.get(group)! - q);
        items.push({
          inventory_id: `inv-${String(o.order_id).replace(/^ord-/, "")}-${i}-${j}`,
          order_id: o.order_id, product_id: item.product_id, product_name: item.product_name, order_price: item.price,
          package_id: p.package_id, subpackage_id: p.subpackage_id, items_quantity: q,
          items_weight: p.weight == null ? null : q * p.weight, items_volume: p.volume == null ? null : q * p.volume,
          order_timestamp: ts(d.order_timestamp), status: reserved ? "PROCESSING" : "PENDING",
        });
      });
    });
    const fully = any && all;
    out.push({
      order_id: o.order_id, customer_id: d.customer_id, total_weight: d.total_weight, total_volume: d.total_volume,
      total_price: d.total_amount, order_timestamp: ts(d.order_timestamp), status: fully ? "PROCESSING" : d.status,
      lat: d.destination_address?.lat ?? null, lon: d.destination_address?.lon ?? null,
    });
    if (fully) inventoryEvents.push({ event_id: `ev-${uuid5(`${o.order_id}/INVENTORY_UPDATED`)}`, event_type: "INVENTORY_UPDATED", order_id: o.order_id });
  }
  return { events, orders: out, orders_items: items, inventoryEvents, stock };
}
