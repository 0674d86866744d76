import type { TableSpec } from "../../core/delta/table.ts";
import type { OrderLine } from "../domain/order_lines.ts";
import type { OrderEvent } from "../order_event.ts";
import type { UserRecord } from "../../core/kinesis/records.ts";

/** A record that failed decoding or validation, with where it came from and why. */
export interface Rejected {
  shardId: string;
  record: UserRecord;
  reason: string;
}

/** Everything a processor may use to make its rows for one batch. */
export interface BatchContext {
  stream: string;
  /** The batch's time (µs since the epoch); the same when the batch is replayed. */
  batchTime: bigint;
  /** The valid order events, in shard order. */
  events: OrderEvent[];
  /** Their item × package lines, in the same order (orders_items sets their status). */
  lines: OrderLine[];
  /** Package groups the package_table MERGE reserved (decremented) in this batch. */
  reserved: ReadonlySet<string>;
  /** Orders all of whose lines were reserved. */
  reservedOrders: ReadonlySet<string>;
  rejected: Rejected[];
}

/**
 * A table the batch appends to. Adding a table is adding one file that exports one of
 * these, and listing it in `processors/all.ts`.
 */
export interface AppendProcessor {
  /** The table's name in configuration and messages. */
  readonly name: string;
  /** The table's schema and layout, used to create it when it is missing. */
  readonly spec: TableSpec;
  /** This batch's rows for the table (may be empty). */
  rows(ctx: BatchContext): Record<string, unknown>[];
}
