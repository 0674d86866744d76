import { field, struct } from "../../core/schema/schema.ts";
import { toMicros } from "../../core/values/timestamp.ts";
import type { DomainTable } from "../../engine/domain.ts";
import { stableUuid } from "./ids.ts";
import { type Order, ordersFullyReserved, type Reserved } from "./order.ts";

/** The bronze events table: every order event, plus `INVENTORY_UPDATED` for orders whose stock was reserved. */
export const eventsTable: DomainTable<Order, Reserved> = {
  name: "events",
  spec: {
    schema: struct(field("event_id", "string"), field("event_type", "string"), field("event_timestamp", "timestamp"), field("order_id", "string")),
  },
  rows(batch) {
    const rows: Record<string, unknown>[] = [];
    for (const part of batch.parts) {
      for (const { event: e } of part.values) {
        rows.push({
          event_id: e.event_id,
          event_type: e.event_type,
          event_timestamp: e.event_timestamp ? (toMicros(e.event_timestamp) ?? null) : null,
          order_id: e.order_id,
        });
      }
    }
    for (const part of batch.parts) {
      const reserved = ordersFullyReserved(part);
      for (const { event: e } of part.values) {
        if (!reserved.has(e.order_id)) continue;
        rows.push({
          event_id: `ev-${stableUuid(`${e.order_id}/INVENTORY_UPDATED`)}`,
          event_type: "INVENTORY_UPDATED",
          event_timestamp: batch.batchTime,
          order_id: e.order_id,
        });
      }
    }
    return rows;
  },
};
