import type { BatchPart } from "../../engine/domain.ts";
import type { OrderEvent } from "./order_event.ts";
import { groupKey, type OrderLine } from "./order_lines.ts";

/** An order event with its item × package lines, as decoded once per record. */
export interface Order {
  event: OrderEvent;
  lines: OrderLine[];
}

/** The package groups (see {@link groupKey}) whose stock a batch's MERGE decremented. */
export type Reserved = ReadonlySet<string>;

/** Per part values and decision: the answer of {@link ordersFullyReserved}, shared by the tables of one batch. */
const fullyReserved = new WeakMap<readonly Order[], { decision: Reserved; orders: Set<string> }>();

/**
 * Orders of a part with at least one line, all of whose lines' groups were reserved.
 * Computed once per part's values and decision (the events and orders tables both ask).
 */
export function ordersFullyReserved(part: BatchPart<Order, Reserved>): Set<string> {
  const known = fullyReserved.get(part.values);
  if (known && known.decision === part.decision) return known.orders;
  const out = computeFullyReserved(part);
  fullyReserved.set(part.values, { decision: part.decision, orders: out });
  return out;
}

function computeFullyReserved(part: BatchPart<Order, Reserved>): Set<string> {
  const out = new Set<string>();
  for (const o of part.values) {
    if (o.lines.length === 0) continue;
    let all = true;
    for (const l of o.lines) {
      const key = groupKey(l.package_id, l.subpackage_id);
      if (key === undefined || !part.decision.has(key)) {
        all = false;
        break;
      }
    }
    if (all) out.add(o.event.order_id);
  }
  return out;
}
