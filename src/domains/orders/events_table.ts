import { StringColumn, TimestampColumn, finishBatch } from "../../core/arrow/column_builders.ts";
import { field, struct } from "../../core/schema/schema.ts";
import type { DomainTable } from "../../engine/domain.ts";
import { stableUuid } from "./ids.ts";
import { type Order, ordersFullyReserved, type Reserved } from "./order.ts";

const SCHEMA = struct(field("event_id", "string"), field("event_type", "string"), field("event_timestamp", "timestamp"), field("order_id", "string"));

/** The bronze events table: every order event, plus `INVENTORY_UPDATED` for orders whose stock was reserved. */
export const eventsTable: DomainTable<Order, Reserved> = {
  name: "events",
  spec: { schema: SCHEMA },
  columns(batch) {
    const n = batch.parts.reduce((k, p) => k + p.values.length, 0);
    const eventId = new StringColumn(2 * n, 40);
    const eventType = new StringColumn(2 * n, 16);
    const eventTs = new TimestampColumn(2 * n);
    const orderId = new StringColumn(2 * n, 40);
    for (const part of batch.parts) {
      for (const o of part.values) {
        eventId.push(o.eventId);
        eventType.push(o.eventType);
        eventTs.push(o.eventTs);
        orderId.push(o.orderId);
      }
    }
    for (const part of batch.parts) {
      const reserved = ordersFullyReserved(part);
      for (let k = 0; k < part.values.length; k++) {
        if (reserved[k] !== 1) continue;
        const id = part.values[k]!.orderId;
        eventId.push(`ev-${stableUuid(`${id}/INVENTORY_UPDATED`)}`);
        eventType.push("INVENTORY_UPDATED");
        eventTs.push(batch.batchTime);
        orderId.push(id);
      }
    }
    return finishBatch(SCHEMA, [eventId, eventType, eventTs, orderId]);
  },
};
