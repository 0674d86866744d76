import type { TableSpec } from "../core/delta/table.ts";
import type { UserRecord } from "../core/kinesis/records.ts";
import { field, struct } from "../core/schema/schema.ts";

/** A record the domain refused, with where it came from and why. */
export interface Rejected {
  shardId: string;
  record: UserRecord;
  reason: string;
}

/**
 * The quarantine table, the same for every domain: each refused record untouched (base64),
 * with the reason and where it came from. It follows the exactly-once protocol like the
 * domain's tables, so a replay never quarantines a record twice.
 */
export const QUARANTINE_TABLE: { readonly name: "quarantine"; readonly spec: TableSpec } = {
  name: "quarantine",
  spec: {
    schema: struct(
      field("stream", "string"), field("shard_id", "string"), field("sequence_number", "string"),
      field("sub_sequence_number", "long"), field("partition_key", "string"), field("arrival_time", "timestamp"),
      field("quarantined_at", "timestamp"), field("reason", "string"), field("raw_size", "integer"), field("raw_base64", "string"),
    ),
  },
};

/** The quarantine rows of refused records; `batchTime` in µs since the epoch. */
export function quarantineRows(stream: string, batchTime: bigint, rejected: readonly Rejected[]): Record<string, unknown>[] {
  return rejected.map((r) => ({
    stream,
    shard_id: r.shardId,
    sequence_number: r.record.sequenceNumber,
    sub_sequence_number: r.record.subSequenceNumber,
    partition_key: r.record.partitionKey,
    arrival_time: r.record.approximateArrivalTimestamp ?? null,
    quarantined_at: batchTime,
    reason: r.reason,
    raw_size: r.record.data.length,
    raw_base64: Buffer.from(r.record.data.buffer, r.record.data.byteOffset, r.record.data.byteLength).toString("base64"),
  }));
}
