import { toMicros } from "../../core/arrow/rows_to_arrow.ts";
import { field, struct } from "../../core/delta/schema.ts";
import type { AppendProcessor } from "./processor.ts";

/** The bronze orders table: one row per order; `PROCESSING` once all its stock is reserved. */
export const ordersProcessor: AppendProcessor = {
  name: "orders",
  spec: {
    schema: struct(
      field("order_id", "string"), field("customer_id", "string"), field("total_weight", "double"),
      field("total_volume", "double"), field("total_price", "double"), field("order_timestamp", "timestamp"),
      field("status", "string"), field("lat", "double"), field("lon", "double"),
    ),
  },
  rows(ctx) {
    return ctx.events.map((e) => {
      const d = e.order_details;
      return {
        order_id: e.order_id,
        customer_id: d?.customer_id ?? null,
        total_weight: d?.total_weight ?? null,
        total_volume: d?.total_volume ?? null,
        total_price: d?.total_amount ?? null,
        order_timestamp: d?.order_timestamp ? (toMicros(d.order_timestamp) ?? null) : null,
        status: ctx.reservedOrders.has(e.order_id) ? "PROCESSING" : (d?.status ?? null),
        lat: d?.destination_address?.lat ?? null,
        lon: d?.destination_address?.lon ?? null,
      };
    });
  },
};
