import type { BatchPart } from "../../engine/domain.ts";
import type { OrderEvent } from "./order_event.ts";
import { groupLookup, inGroups, type Item, type Package } from "./order_lines.ts";

/** An order event as decoded once per record: the parsed event, its timestamps, its line count. */
export interface Order {
  event: OrderEvent;
  /** `event_timestamp` in µs since the epoch (a number when it fits one exactly), or null. */
  eventTs: number | bigint | null;
  /** `order_details.order_timestamp` in µs since the epoch, or null. */
  orderTs: number | bigint | null;
  /** Its item × package lines (see `forEachLine`). */
  lines: number;
}

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
  const out = computeFullyReserved(part);
  fullyReserved.set(part.values, { decision: part.decision, orders: out });
  return out;
}

function computeFullyReserved(part: BatchPart<Order, Reserved>): Uint8Array {
  const out = new Uint8Array(part.values.length);
  const lookup = groupLookup(part.decision);
  for (let k = 0; k < part.values.length; k++) {
    const o = part.values[k]!;
    if (o.lines === 0) continue;
    out[k] = allReserved(o.event, lookup) ? 1 : 0;
  }
  return out;
}

function allReserved(event: OrderEvent, lookup: ReturnType<typeof groupLookup>): boolean {
  const items = event.order_details?.items ?? [];
  for (const item of items as (Item | null)[]) {
    if (!item) continue;
    for (const p of (item.packages ?? []) as (Package | null)[]) {
      if (p && !inGroups(lookup, p)) return false;
    }
  }
  return true;
}
