import { field, struct } from "../../core/delta/schema.ts";
import { groupKey } from "../domain/order_lines.ts";
import type { AppendProcessor } from "./processor.ts";

/** The bronze orders_items table: item × package lines; `PROCESSING` when their package group was reserved, else `PENDING`. */
export const ordersItemsProcessor: AppendProcessor = {
  name: "orders_items",
  spec: {
    schema: struct(
      field("inventory_id", "string"), field("order_id", "string"), field("product_id", "string"),
      field("product_name", "string"), field("order_price", "double"), field("package_id", "string"),
      field("subpackage_id", "integer"), field("items_quantity", "integer"), field("items_weight", "double"),
      field("items_volume", "double"), field("order_timestamp", "timestamp"), field("status", "string"),
    ),
  },
  rows(ctx) {
    // The lines are this batch's own: their status is set in place rather than copied.
    for (const l of ctx.lines) {
      const key = groupKey(l.package_id, l.subpackage_id);
      l.status = key !== undefined && ctx.reserved.has(key) ? "PROCESSING" : "PENDING";
    }
    return ctx.lines as unknown as Record<string, unknown>[];
  },
};
