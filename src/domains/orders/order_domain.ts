import type { Decoded, Domain } from "../../engine/domain.ts";
import type { UserRecord } from "../../core/kinesis/records.ts";
import { eventsTable } from "./events_table.ts";
import type { Order, Reserved } from "./order.ts";
import { decodeOrderEvent, INT32_MAX } from "./order_event.ts";
import { type OrderLine, orderLines } from "./order_lines.ts";
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
      const lines = orderLines(d.event);
      if (lines.length > maxLines) {
        return { ok: false, reason: `order_details.items: the order makes ${lines.length} item × package lines; at most ${maxLines} are allowed per record` };
      }
      const unfit = unfitLine(lines);
      if (unfit) return { ok: false, reason: unfit };
      return { ok: true, value: { event: d.event, lines } };
    },
    tables: [eventsTable, ordersTable, ordersItemsTable],
    prepare: new PackageMerge(),
  };
}

/**
 * Why a line's derived values do not fit orders_items, or undefined: `items_quantity`
 * (item × package quantity) is a 32-bit integer; `items_weight` and `items_volume` must be
 * finite.
 */
function unfitLine(lines: readonly OrderLine[]): string | undefined {
  for (const l of lines) {
    if (l.items_quantity !== null && l.items_quantity > INT32_MAX) {
      return `${where(l)}: items_quantity (item quantity × package quantity) is ${l.items_quantity}: expected at most ${INT32_MAX} (a 32-bit integer)`;
    }
    if (l.items_weight !== null && !Number.isFinite(l.items_weight)) return `${where(l)}: items_weight (items_quantity × weight) is ${l.items_weight}: expected a finite number`;
    if (l.items_volume !== null && !Number.isFinite(l.items_volume)) return `${where(l)}: items_volume (items_quantity × volume) is ${l.items_volume}: expected a finite number`;
  }
  return undefined;
}

/** The record path of a line (its indexes are the end of its inventory_id), for a reason. */
function where(l: OrderLine): string {
  const [, item, pkg] = /-(\d+)-(\d+)$/.exec(l.inventory_id) ?? [];
  return `order_details.items.${item}.packages.${pkg}`;
}
