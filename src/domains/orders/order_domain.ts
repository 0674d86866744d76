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
      const { lines, count, unfit } = orderLines(e, maxLines);
      if (count > maxLines) {
        return { ok: false, reason: `order_details.items: the order makes ${count} item × package lines; at most ${maxLines} are allowed per record` };
      }
      if (unfit) return { ok: false, reason: unfit };
      const details = e.order_details;
      const address = details?.destination_address;
      return {
        ok: true,
        value: {
          eventId: e.event_id,
          eventType: e.event_type,
          orderId: e.order_id,
          customerId: details?.customer_id ?? null,
          totalWeight: details?.total_weight ?? null,
          totalVolume: details?.total_volume ?? null,
          totalPrice: details?.total_amount ?? null,
          status: details?.status ?? null,
          lat: address?.lat ?? null,
          lon: address?.lon ?? null,
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
 * The order's item × package lines (see {@link Order.lines}; only counted past `max`), and
 * why the first line whose derived values do not fit orders_items does not, if one does
 * not: `items_quantity` (item × package quantity) is a 32-bit integer; `items_weight` and
 * `items_volume` must be finite.
 */
function orderLines(e: OrderEvent, max: number): { lines: Order["lines"]; count: number; unfit: string | undefined } {
  const lines: Order["lines"] = [];
  let count = 0;
  let unfit: string | undefined;
  forEachLine(e, (item, p, i, j) => {
    if (++count > max) return;
    const q = itemsQuantity(item, p);
    const weight = q != null && p.weight != null ? q * p.weight : null;
    const volume = q != null && p.volume != null ? q * p.volume : null;
    lines.push(i, j, item.product_id ?? null, item.product_name ?? null, item.price ?? null, p.package_id ?? null, p.subpackage_id ?? null, q, weight, volume);
    if (unfit !== undefined || q === null) return;
    if (q > INT32_MAX) unfit = `${linePath(i, j)}: items_quantity (item quantity × package quantity) is ${q}: expected at most ${INT32_MAX} (a 32-bit integer)`;
    else if (weight !== null && !Number.isFinite(weight)) unfit = `${linePath(i, j)}: items_weight (items_quantity × weight) is ${weight}: expected a finite number`;
    else if (volume !== null && !Number.isFinite(volume)) unfit = `${linePath(i, j)}: items_volume (items_quantity × volume) is ${volume}: expected a finite number`;
  });
  return { lines, count, unfit };
}

/** Where a line is in the record, for a reason. */
function linePath(i: number, j: number): string {
  return `order_details.items.${i}.packages.${j}`;
}
