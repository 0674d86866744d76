import type { OrderEvent } from "./order_event.ts";

/**
 * An order's item × package lines, the rows of orders_items, as the original job made
 * them with two `explode`s: one per non-null package of each non-null item, in order.
 * {@link forEachLine} walks them over the parsed event.
 */
export type Item = NonNullable<NonNullable<NonNullable<NonNullable<OrderEvent["order_details"]>["items"]>[number]>>;
export type Package = NonNullable<NonNullable<Item["packages"]>[number]>;

/**
 * Calls `f` for each line of the event: item `i`, package `j` (indexes from 0, nulls
 * skipped but counted). `inventory_id` is `inv-<order id without its "ord-">-<i>-<j>`.
 */
export function forEachLine(event: OrderEvent, f: (item: Item, p: Package, i: number, j: number) => void): void {
  const items = event.order_details?.items;
  if (!items) return;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!item) continue;
    const packages = item.packages;
    if (!packages) continue;
    for (let j = 0; j < packages.length; j++) {
      const p = packages[j];
      if (p) f(item, p, i, j);
    }
  }
}

/** A line's `items_quantity`: the item's quantity × the package's, or null when either is. */
export function itemsQuantity(item: Item, p: Package): number | null {
  return item.quantity != null && p.quantity != null ? item.quantity * p.quantity : null;
}

/** The prefix of an order's inventory ids: `inv-` and the order id without its `ord-`. */
export function inventoryBase(orderId: string): string {
  return `inv-${orderId.startsWith("ord-") ? orderId.slice(4) : orderId}`;
}

/**
 * The key of a package group, `<subpackage_id>:<package_id>` (the integer first, so the
 * first colon separates them whatever the package id holds), or undefined when either is null.
 */
export function groupKey(packageId: string | null | undefined, subpackageId: number | null | undefined): string | undefined {
  return packageId == null || subpackageId == null ? undefined : `${subpackageId}:${packageId}`;
}

/** Package groups as a lookup by package id, then subpackage id: no key string per line. */
export type GroupLookup = Map<string, Set<number>>;

const lookups = new WeakMap<ReadonlySet<string>, GroupLookup>();

/** The groups of a set of {@link groupKey}s as a {@link GroupLookup} (made once per set). */
export function groupLookup(keys: ReadonlySet<string>): GroupLookup {
  let out = lookups.get(keys);
  if (out) return out;
  out = new Map();
  for (const key of keys) {
    const colon = key.indexOf(":");
    const pkg = key.slice(colon + 1);
    let subs = out.get(pkg);
    if (!subs) out.set(pkg, (subs = new Set()));
    subs.add(Number(key.slice(0, colon)));
  }
  lookups.set(keys, out);
  return out;
}

/** Whether a package group is in the lookup. */
export function inGroups(lookup: GroupLookup, packageId: string | null, subpackageId: number | null): boolean {
  return packageId != null && subpackageId != null && lookup.get(packageId)?.has(subpackageId) === true;
}
