import { toMicros } from "../../core/arrow/rows_to_arrow.ts";
import type { OrderEvent } from "../order_event.ts";
import { stableUuid } from "./ids.ts";

/** One row of orders_items before its status is known: an item × one of its packages. */
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
}

/**
 * Explodes an order into item × package lines, as the original job did with two
 * `explode`s. `inventory_id` is derived from the order id and the item and package
 * indexes, so it is the same each time the order is processed.
 */
export function orderLines(event: OrderEvent): OrderLine[] {
  const details = event.order_details;
  const orderTs = details?.order_timestamp ? (toMicros(details.order_timestamp) ?? null) : null;
  const out: OrderLine[] = [];
  const items = details?.items ?? [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!item) continue;
    const packages = item.packages ?? [];
    for (let j = 0; j < packages.length; j++) {
      const p = packages[j];
      if (!p) continue;
      const q = item.quantity != null && p.quantity != null ? item.quantity * p.quantity : null;
      out.push({
        inventory_id: `inv-${stableUuid(`${event.order_id}/${i}/${j}`)}`,
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
      });
    }
  }
  return out;
}

/** The key of a package group: `(package_id, subpackage_id)`, or undefined when either is null. */
export function groupKey(packageId: string | null | undefined, subpackageId: number | null | undefined): string | undefined {
  return packageId == null || subpackageId == null ? undefined : JSON.stringify([packageId, subpackageId]);
}
