import assert from "node:assert/strict";
import { test } from "node:test";
import * as arrow from "apache-arrow";
import { parsePartitionValue, serializePartitionValue } from "../delta/partitions.ts";
import { readParquet, writeParquet } from "../parquet/parquet.ts";
import { adoptSchema } from "../schema/schema_adoption.ts";
import { field, parseSchema, struct } from "../schema/schema.ts";
import { tableToRows } from "./arrow_to_rows.ts";
import { rowsToArrow } from "./rows_to_arrow.ts";

test("a timestamp_ntz column is a zoneless µs timestamp, with a null count and no bounds, and reads back as the same wall-clock time", () => {
  const schema = parseSchema(JSON.stringify({ type: "struct", fields: [{ name: "wall", type: "timestamp_ntz", nullable: true, metadata: {} }] }));
  const built = rowsToArrow(schema, [{ wall: "2024-05-01 10:30:00.123456" }, { wall: null }]);
  const type = built.batch.schema.fields[0]!.type as arrow.Timestamp;
  assert.equal(type.unit, arrow.TimeUnit.MICROSECOND);
  assert.ok(!type.timezone, "no zone");
  assert.deepEqual(built.stats.fields.get("wall"), { kind: "leaf", nullCount: 1 });
  const back = tableToRows(readParquet(writeParquet([built.batch], { codec: "snappy" })), { timestamps: "micros" });
  assert.deepEqual(back.map((r) => r.wall), [BigInt(Date.UTC(2024, 4, 1, 10, 30)) * 1000n + 123456n, null]);
});

test("timestamp_ntz partition values have no zone; a produced timestamp goes into a timestamp_ntz column as its UTC wall-clock time", () => {
  assert.equal(serializePartitionValue("timestamp_ntz", "2024-05-01T10:30:00Z", "wall"), "2024-05-01 10:30:00.000000");
  assert.equal(parsePartitionValue("timestamp_ntz", "2024-05-01 10:30:00.000000"), BigInt(Date.UTC(2024, 4, 1, 10, 30)) * 1000n);
  const plan = adoptSchema(struct(field("t", "timestamp")), struct(field("t", "timestamp_ntz")));
  assert.deepEqual(plan.mismatches, []);
});
