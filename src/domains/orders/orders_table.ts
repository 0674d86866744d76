import { DoubleColumn, StringColumn, TimestampColumn, finishBatch } from "../../core/arrow/column_builders.ts";
import { field, struct } from "../../core/schema/schema.ts";
import type { DomainTable } from "../../engine/domain.ts";
import { type Order, ordersFullyReserved, type Reserved } from "./order.ts";

const SCHEMA = struct(
  field("order_id", "string"), field("customer_id", "string"), field("total_weight", "double"),
  field("total_volume", "double"), field("total_price", "double"), field("order_timestamp", "timestamp"),
  field("status", "string"), field("lat", "double"), field("lon", "double"),
);

/** The bronze orders table: one row per order; `PROCESSING` once all its stock is reserved. */
export const ordersTable: DomainTable<Order, Reserved> = {
  name: "orders",
  spec: { schema: SCHEMA },
  columns(batch) {
    const n = batch.parts.reduce((k, p) => k + p.values.length, 0);
    const orderId = new StringColumn(n, 40);
    const customerId = new StringColumn(n, 16);
    const weight = new DoubleColumn(n);
    const volume = new DoubleColumn(n);
    const price = new DoubleColumn(n);
    const orderTs = new TimestampColumn(n);
    const status = new StringColumn(n, 12);
    const lat = new DoubleColumn(n);
    const lon = new DoubleColumn(n);
    for (const part of batch.parts) {
      const reserved = ordersFullyReserved(part);
      for (let k = 0; k < part.values.length; k++) {
        const o = part.values[k]!;
        orderId.push(o.orderId);
        customerId.push(o.customerId);
        weight.push(o.totalWeight);
        volume.push(o.totalVolume);
        price.push(o.totalPrice);
        orderTs.push(o.orderTs);
        status.push(reserved[k] === 1 ? "PROCESSING" : o.status);
        lat.push(o.lat);
        lon.push(o.lon);
      }
    }
    return finishBatch(SCHEMA, [orderId, customerId, weight, volume, price, orderTs, status, lat, lon]);
  },
};
