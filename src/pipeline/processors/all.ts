import { eventsProcessor } from "./events.ts";
import { ordersProcessor } from "./orders.ts";
import { ordersItemsProcessor } from "./orders_items.ts";
import type { AppendProcessor } from "./processor.ts";
import { quarantineProcessor } from "./quarantine.ts";

/** The tables every batch appends to, after the package_table MERGE. */
export const APPEND_PROCESSORS: readonly AppendProcessor[] = [eventsProcessor, ordersProcessor, ordersItemsProcessor, quarantineProcessor];
