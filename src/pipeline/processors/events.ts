import { toMicros } from "../../core/arrow/rows_to_arrow.ts";
import { field, struct } from "../../core/delta/schema.ts";
import { stableUuid } from "../domain/ids.ts";
import type { AppendProcessor } from "./processor.ts";

/** The bronze events table: every order event, plus `INVENTORY_UPDATED` for orders whose stock was reserved. */
export const eventsProcessor: AppendProcessor = {
  name: "events",
  spec: {
    schema: struct(field("event_id", "string"), field("event_type", "string"), field("event_timestamp", "timestamp"), field("order_id", "string")),
  },
  rows(ctx) {
    const rows: Record<string, unknown>[] = ctx.events.map((e) => ({
      event_id: e.event_id,
      event_type: e.event_type,
      event_timestamp: e.event_timestamp ? (toMicros(e.event_timestamp) ?? null) : null,
      order_id: e.order_id,
    }));
    for (const e of ctx.events) {
      if (!ctx.reservedOrders.has(e.order_id)) continue;
      rows.push({
        event_id: `ev-${stableUuid(`${e.order_id}/INVENTORY_UPDATED`)}`,
        event_type: "INVENTORY_UPDATED",
        event_timestamp: ctx.batchTime,
        order_id: e.order_id,
      });
    }
    return rows;
  },
};
