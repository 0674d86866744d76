import { field, struct } from "../../core/schema/schema.ts";
import type { DomainTable } from "../../engine/domain.ts";
import type { Order, Reserved } from "./order.ts";
import { groupKey, type OrderLine } from "./order_lines.ts";

/** The bronze orders_items table: item × package lines; `PROCESSING` when their package group was reserved, else `PENDING`. */
export const ordersItemsTable: DomainTable<Order, Reserved> = {
  name: "orders_items",
  spec: {
    schema: struct(
      field("inventory_id", "string"), field("order_id", "string"), field("product_id", "string"),
      field("product_name", "string"), field("order_price", "double"), field("package_id", "string"),
      field("subpackage_id", "integer"), field("items_quantity", "integer"), field("items_weight", "double"),
      field("items_volume", "double"), field("order_timestamp", "timestamp"), field("status", "string"),
    ),
  },
  rows(batch) {
    // The lines were made for this batch when their records were decoded: their status is
    // set in place rather than copied (the same decision gives the same status each time).
    const rows: OrderLine[] = [];
    for (const part of batch.parts) {
      for (const o of part.values) {
        for (const l of o.lines) {
          const key = groupKey(l.package_id, l.subpackage_id);
          l.status = key !== undefined && part.decision.has(key) ? "PROCESSING" : "PENDING";
          rows.push(l);
        }
      }
    }
    return rows as unknown as Record<string, unknown>[];
  },
};
