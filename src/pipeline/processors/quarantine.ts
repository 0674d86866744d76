import { field, struct } from "../../core/delta/schema.ts";
import type { AppendProcessor } from "./processor.ts";

/** Records that were not valid order events, untouched (base64), with why and where from. */
export const quarantineProcessor: AppendProcessor = {
  name: "quarantine",
  spec: {
    schema: struct(
      field("stream", "string"), field("shard_id", "string"), field("sequence_number", "string"),
      field("sub_sequence_number", "long"), field("partition_key", "string"), field("arrival_time", "timestamp"),
      field("quarantined_at", "timestamp"), field("reason", "string"), field("raw_size", "integer"), field("raw_base64", "string"),
    ),
  },
  rows(ctx) {
    return ctx.rejected.map((r) => ({
      stream: ctx.stream,
      shard_id: r.shardId,
      sequence_number: r.record.sequenceNumber,
      sub_sequence_number: r.record.subSequenceNumber,
      partition_key: r.record.partitionKey,
      arrival_time: r.record.approximateArrivalTimestamp ?? null,
      quarantined_at: ctx.batchTime,
      reason: r.reason,
      raw_size: r.record.data.length,
      raw_base64: Buffer.from(r.record.data.buffer, r.record.data.byteOffset, r.record.data.byteLength).toString("base64"),
    }));
  },
};
