import { groupKey, type OrderLine } from "./order_lines.ts";

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
 * The MERGE of the original job, per batch: sum `items_quantity` per (package_id,
 * subpackage_id) over the batch's order lines; where a package row's `stock_quantity` is
 * at least that sum, decrement it by the sum; otherwise leave it. A group is reserved
 * if a row matched and had the stock. As in a MERGE, every matching row is updated (the
 * table should hold one row per group). Lines with a null quantity add nothing.
 */
export function reserveStock(packages: readonly PackageRow[], lines: readonly OrderLine[]): Reservation {
  const demand = new Map<string, number>();
  for (const l of lines) {
    const key = groupKey(l.package_id, l.subpackage_id);
    if (key === undefined || l.items_quantity == null) continue;
    demand.set(key, (demand.get(key) ?? 0) + l.items_quantity);
  }
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
