import type { Decoded, Domain } from "../../engine/domain.ts";
import type { UserRecord } from "../../core/kinesis/records.ts";
import { eventsTable } from "./events_table.ts";
import type { Order, Reserved } from "./order.ts";
import { stringMicros } from "../../core/values/timestamp.ts";
import { decodeOrderEvent, INT32_MAX, type OrderEvent } from "./order_event.ts";
import { forEachLine, itemsQuantity } from "./order_lines.ts";
import { ordersItemsTable } from "./orders_items_table.ts";
import { ordersTable } from "./orders_table.ts";
import { PackageMerge } from "./package_merge.ts";

/** The order domain's knobs. */
export interface OrderDomainOptions {
  /**
   * Item × package lines one order may make at most; an order with more goes to
   * quarantine (one 1 MiB record of empty packages would otherwise make 350,000 rows).
   * @default 10_000
   */
  maxLinesPerRecord?: number;
}

/**
 * The order domain of the original job (DOMAIN.md): order events into the events, orders
 * and orders_items tables, and a package_table MERGE that takes the stock the orders
 * need, whose decision (the reserved package groups) sets the statuses.
 */
export function orderDomain(options: OrderDomainOptions = {}): Domain<Order, Reserved> {
  const maxLines = options.maxLinesPerRecord ?? 10_000;
  return {
    name: "orders",
    decode(record: UserRecord): Decoded<Order> {
      const d = decodeOrderEvent(record.data);
      if (!d.ok) return d;
      const e = d.event;
      const { lines, unfit } = checkLines(e);
      if (lines > maxLines) {
        return { ok: false, reason: `order_details.items: the order makes ${lines} item × package lines; at most ${maxLines} are allowed per record` };
      }
      if (unfit) return { ok: false, reason: unfit };
      const details = e.order_details;
      return {
        ok: true,
        value: {
          event: e,
          // The schema checked both are timestamps that exist.
          eventTs: e.event_timestamp ? (stringMicros(e.event_timestamp) ?? null) : null,
          orderTs: details?.order_timestamp ? (stringMicros(details.order_timestamp) ?? null) : null,
          lines,
        },
      };
    },
    tables: [eventsTable, ordersTable, ordersItemsTable],
    prepare: new PackageMerge(),
  };
}

/**
 * The order's item × package line count, and why the first line whose derived values do
 * not fit orders_items does not, if one does not: `items_quantity` (item × package
 * quantity) is a 32-bit integer; `items_weight` and `items_volume` must be finite.
 */
function checkLines(e: OrderEvent): { lines: number; unfit: string | undefined } {
  let lines = 0;
  let unfit: string | undefined;
  forEachLine(e, (item, p, i, j) => {
    lines++;
    if (unfit !== undefined) return;
    const q = itemsQuantity(item, p);
    if (q === null) return;
    if (q > INT32_MAX) unfit = `${linePath(i, j)}: items_quantity (item quantity × package quantity) is ${q}: expected at most ${INT32_MAX} (a 32-bit integer)`;
    else if (p.weight != null && !Number.isFinite(q * p.weight)) unfit = `${linePath(i, j)}: items_weight (items_quantity × weight) is ${q * p.weight}: expected a finite number`;
    else if (p.volume != null && !Number.isFinite(q * p.volume)) unfit = `${linePath(i, j)}: items_volume (items_quantity × volume) is ${q * p.volume}: expected a finite number`;
  });
  return { lines, unfit };
}

/** Where a line is in the record, for a reason. */
function linePath(i: number, j: number): string {
  return `order_details.items.${i}.packages.${j}`;
}
