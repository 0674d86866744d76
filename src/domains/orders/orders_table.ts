import { field, struct } from "../../core/schema/schema.ts";
import { toMicros } from "../../core/values/timestamp.ts";
import type { DomainTable } from "../../engine/domain.ts";
import { type Order, ordersFullyReserved, type Reserved } from "./order.ts";

/** The bronze orders table: one row per order; `PROCESSING` once all its stock is reserved. */
export const ordersTable: DomainTable<Order, Reserved> = {
  name: "orders",
  spec: {
    schema: struct(
      field("order_id", "string"), field("customer_id", "string"), field("total_weight", "double"),
      field("total_volume", "double"), field("total_price", "double"), field("order_timestamp", "timestamp"),
      field("status", "string"), field("lat", "double"), field("lon", "double"),
    ),
  },
  rows(batch) {
    const rows: Record<string, unknown>[] = [];
    for (const part of batch.parts) {
      const reserved = ordersFullyReserved(part);
      for (const { event: e } of part.values) {
        const d = e.order_details;
        rows.push({
          order_id: e.order_id,
          customer_id: d?.customer_id ?? null,
          total_weight: d?.total_weight ?? null,
          total_volume: d?.total_volume ?? null,
          total_price: d?.total_amount ?? null,
          order_timestamp: d?.order_timestamp ? (toMicros(d.order_timestamp) ?? null) : null,
          status: reserved.has(e.order_id) ? "PROCESSING" : (d?.status ?? null),
          lat: d?.destination_address?.lat ?? null,
          lon: d?.destination_address?.lon ?? null,
        });
      }
    }
    return rows;
  },
};
