import { toMicros } from "../../core/values/timestamp.ts";
import type { OrderEvent } from "./order_event.ts";

/** One row of orders_items: an item × one of its packages; `status` is set once the stock is decided. */
export interface OrderLine {
  inventory_id: string;
  order_id: string;
  product_id: string | null;
  product_name: string | null;
  order_price: number | null;
  package_id: string | null;
  subpackage_id: number | null;
  items_quantity: number | null;
  items_weight: number | null;
  items_volume: number | null;
  order_timestamp: bigint | null;
  status: "PROCESSING" | "PENDING" | null;
}

/**
 * Explodes an order into item × package lines, as the original job did with two
 * `explode`s. `inventory_id` is `inv-<order id without its "ord-">-<item>-<package>`
 * (indexes from 0): the same each time the order is processed, and traceable to it.
 */
export function orderLines(event: OrderEvent): OrderLine[] {
  const details = event.order_details;
  const orderTs = details?.order_timestamp ? (toMicros(details.order_timestamp) ?? null) : null;
  const out: OrderLine[] = [];
  const items = details?.items ?? [];
  const base = `inv-${event.order_id.startsWith("ord-") ? event.order_id.slice(4) : event.order_id}`;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!item) continue;
    const packages = item.packages ?? [];
    for (let j = 0; j < packages.length; j++) {
      const p = packages[j];
      if (!p) continue;
      const q = item.quantity != null && p.quantity != null ? item.quantity * p.quantity : null;
      out.push({
        inventory_id: `${base}-${i}-${j}`,
        order_id: event.order_id,
        product_id: item.product_id ?? null,
        product_name: item.product_name ?? null,
        order_price: item.price ?? null,
        package_id: p.package_id ?? null,
        subpackage_id: p.subpackage_id ?? null,
        items_quantity: q,
        items_weight: q != null && p.weight != null ? q * p.weight : null,
        items_volume: q != null && p.volume != null ? q * p.volume : null,
        order_timestamp: orderTs,
        status: null,
      });
    }
  }
  return out;
}

/**
 * The key of a package group, `<subpackage_id>:<package_id>` (the integer first, so the
 * first colon separates them whatever the package id holds), or undefined when either is null.
 */
export function groupKey(packageId: string | null | undefined, subpackageId: number | null | undefined): string | undefined {
  return packageId == null || subpackageId == null ? undefined : `${subpackageId}:${packageId}`;
}
