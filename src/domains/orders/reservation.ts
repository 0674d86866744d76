import type { Order } from "./order.ts";
import { forEachLine, groupKey, itemsQuantity } from "./order_lines.ts";

/** A package_table row, as read from the table. */
export type PackageRow = Record<string, unknown> & { package_id: string | null; subpackage_id: number | null; stock_quantity: number };

export interface Reservation {
  /** Package groups whose stock was decremented by this batch (see {@link groupKey}). */
  reserved: Set<string>;
  /** package_table rows after the batch, in their original order. */
  rows: PackageRow[];
  /** Rows whose stock changed. */
  changed: number;
  /** Units taken from stock in all. */
  units: number;
}

/**
 * The demand of a batch's orders per package group ({@link groupKey}): the sum of
 * `items_quantity` over their lines. Lines with a null quantity or group add nothing.
 */
export function demandOf(orders: readonly Order[]): Map<string, number> {
  // By package id, then subpackage id: no key string per line.
  const byPackage = new Map<string, Map<number, number>>();
  for (const o of orders) {
    if (o.lines === 0) continue;
    forEachLine(o.event, (item, p) => {
      const q = itemsQuantity(item, p);
      if (q === null || p.package_id == null || p.subpackage_id == null) return;
      let subs = byPackage.get(p.package_id);
      if (!subs) byPackage.set(p.package_id, (subs = new Map()));
      subs.set(p.subpackage_id, (subs.get(p.subpackage_id) ?? 0) + q);
    });
  }
  const demand = new Map<string, number>();
  for (const [pkg, subs] of byPackage) for (const [sub, q] of subs) demand.set(groupKey(pkg, sub)!, q);
  return demand;
}

/**
 * The MERGE of the original job, per batch: given the demand per (package_id,
 * subpackage_id) of the batch's order lines ({@link demandOf}), where a package row's
 * `stock_quantity` is at least its group's demand, decrement it by that; otherwise leave
 * it. A group is reserved if a row matched and had the stock. As in a MERGE, every
 * matching row is updated (the table should hold one row per group).
 */
export function reserveStock(packages: readonly PackageRow[], demand: ReadonlyMap<string, number>): Reservation {
  const reserved = new Set<string>();
  let changed = 0;
  let units = 0;
  const rows = packages.map((row) => {
    const key = groupKey(row.package_id, row.subpackage_id);
    const want = key === undefined ? undefined : demand.get(key);
    if (key === undefined || want === undefined || !(row.stock_quantity >= want)) return row;
    reserved.add(key);
    if (want === 0) return row;
    changed++;
    units += want;
    return { ...row, stock_quantity: row.stock_quantity - want };
  });
  return { reserved, rows, changed, units };
}
