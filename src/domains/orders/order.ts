import type { BatchPart } from "../../engine/domain.ts";
import { groupLookup, inGroups } from "./order_lines.ts";

/**
 * An order event as decoded once per record: only what the tables and the MERGE read, in
 * a compact form, so the parsed JSON (two dozen objects and four dozen strings per order)
 * is garbage as soon as the record is decoded rather than living through the batch.
 */
export interface Order {
  eventId: string;
  eventType: string;
  orderId: string;
  customerId: string | null;
  totalWeight: number | null;
  totalVolume: number | null;
  /** `order_details.total_amount`. */
  totalPrice: number | null;
  status: string | null;
  lat: number | null;
  lon: number | null;
  /** `event_timestamp` in µs since the epoch (a number when it is a safe integer), or null. */
  eventTs: number | bigint | null;
  /** `order_details.order_timestamp` in µs since the epoch, or null. */
  orderTs: number | bigint | null;
  /**
   * Its item × package lines (the rows of orders_items), {@link LINE_STRIDE} values each,
   * one after the other: see the `L_` offsets.
   */
  lines: (string | number | null)[];
}

/** Values per line in {@link Order.lines}. */
export const LINE_STRIDE = 10;
/** Offsets of a line's values: item index, package index (both from 0, nulls counted), … */
export const L_ITEM = 0, L_PACKAGE = 1, L_PRODUCT_ID = 2, L_PRODUCT_NAME = 3, L_PRICE = 4, L_PACKAGE_ID = 5;
/** … subpackage id, items_quantity (item × package quantity), items_weight, items_volume. */
export const L_SUBPACKAGE_ID = 6, L_QUANTITY = 7, L_WEIGHT = 8, L_VOLUME = 9;

/** The package groups (see `groupKey`) whose stock a batch's MERGE decremented. */
export type Reserved = ReadonlySet<string>;

/** Per part values and decision: the answer of {@link ordersFullyReserved}, shared by the tables of one batch. */
const fullyReserved = new WeakMap<readonly Order[], { decision: Reserved; orders: Uint8Array }>();

/**
 * Which orders of a part (1 at their index in `part.values`) have at least one line, all
 * of whose lines' groups were reserved. Computed once per part's values and decision (the
 * events and orders tables both ask).
 */
export function ordersFullyReserved(part: BatchPart<Order, Reserved>): Uint8Array {
  const known = fullyReserved.get(part.values);
  if (known && known.decision === part.decision) return known.orders;
  const out = new Uint8Array(part.values.length);
  const lookup = groupLookup(part.decision);
  for (let k = 0; k < part.values.length; k++) {
    const lines = part.values[k]!.lines;
    if (lines.length === 0) continue;
    let all = true;
    for (let l = 0; l < lines.length && all; l += LINE_STRIDE) {
      all = inGroups(lookup, lines[l + L_PACKAGE_ID] as string | null, lines[l + L_SUBPACKAGE_ID] as number | null);
    }
    out[k] = all ? 1 : 0;
  }
  fullyReserved.set(part.values, { decision: part.decision, orders: out });
  return out;
}
