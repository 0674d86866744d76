import { L_PACKAGE_ID, L_QUANTITY, L_SUBPACKAGE_ID, LINE_STRIDE, type Order } from "./order.ts";
import { groupKey } from "./order_lines.ts";

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
    const lines = o.lines;
    for (let l = 0; l < lines.length; l += LINE_STRIDE) {
      const q = lines[l + L_QUANTITY] as number | null;
      const pkg = lines[l + L_PACKAGE_ID] as string | null;
      const sub = lines[l + L_SUBPACKAGE_ID] as number | null;
      if (q === null || pkg === null || sub === null) continue;
      let subs = byPackage.get(pkg);
      if (!subs) byPackage.set(pkg, (subs = new Map()));
      subs.set(sub, (subs.get(sub) ?? 0) + q);
    }
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
