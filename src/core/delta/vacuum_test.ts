import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../adapters/memory/memory_store.ts";
import { field, struct } from "../schema/schema.ts";
import { protocolFeatures, unsupportedForVacuum } from "./protocol_support.ts";
import { DeltaTable } from "./table.ts";
import { formatDuration, hiddenPath, planVacuum, vacuum, VacuumRetentionError } from "./vacuum.ts";

const DAY = 86_400_000;

test("hidden folders and names are skipped, but a partition folder is never taken for a hidden one", () => {
  assert.equal(hiddenPath("_delta_log/00000000000000000000.json", []), true);
  assert.equal(hiddenPath("_change_data/cdc-1.parquet", []), true);
  assert.equal(hiddenPath(".part-1.parquet.crc", []), true);
  assert.equal(hiddenPath("p=1/.part-1.parquet.crc", ["p"]), true);
  assert.equal(hiddenPath("part-1.parquet", []), false);
  assert.equal(hiddenPath("_src=kinesis/part-1.parquet", ["_src"]), false);
  assert.equal(hiddenPath("_src=kinesis/part-1.parquet", []), true);
});

test("legacy protocol versions are named as features; vacuum refuses the features it does not understand", () => {
  assert.deepEqual(protocolFeatures({ minReaderVersion: 1, minWriterVersion: 4 }).writer, ["appendOnly", "invariants", "checkConstraints", "changeDataFeed", "generatedColumns"]);
  assert.deepEqual(protocolFeatures({ minReaderVersion: 2, minWriterVersion: 5 }).reader, ["columnMapping"]);
  assert.deepEqual(unsupportedForVacuum({ minReaderVersion: 2, minWriterVersion: 6 }), []);
  assert.deepEqual(
    unsupportedForVacuum({ minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["v2Checkpoint", "vacuumProtocolCheck"], writerFeatures: ["v2Checkpoint", "inCommitTimestamp", "vacuumProtocolCheck"] }),
    ["inCommitTimestamp", "v2Checkpoint"],
  );
  assert.equal(formatDuration(7 * DAY), "7 days");
  assert.equal(formatDuration(36 * 3_600_000), "36 hours");
});

test("vacuum of a table partitioned by a column starting with '_' deletes old orphans in its partition folders and keeps what the retention needs", async () => {
  let now = Date.now() - 30 * DAY;
  const store = new MemoryStore("vac", () => now);
  const table = await DeltaTable.openOrCreate(store, { schema: struct(field("_src", "string"), field("id", "long")), partitionColumns: ["_src"] }, { now: () => now });
  const [old] = (await table.append([{ _src: "k", id: 1 }])).adds;
  await store.put("_src=k/part-orphan-old.parquet", new Uint8Array(5));
  await store.put("_hidden/old.parquet", new Uint8Array(5));
  now += 20 * DAY; // 10 days ago: the old file is replaced
  await table.rewrite([old!], [{ _src: "k", id: 2 }]);
  now += 7 * DAY; // 3 days ago: another replaced, inside the retention
  const [mid] = (await table.append([{ _src: "j", id: 3 }])).adds;
  await table.rewrite([mid!], [{ _src: "j", id: 4 }]);
  await store.put("_src=j/part-orphan-new.parquet", new Uint8Array(5));
  now += 3 * DAY;
  const plan = await planVacuum(table, { now });
  assert.deepEqual(plan.files.map((f) => f.key).sort(), ["_src=k/part-orphan-old.parquet", decodeURIComponent(old!.path)].sort());
  await assert.rejects(planVacuum(table, { now, retentionMs: DAY }), VacuumRetentionError);
  const done = await vacuum(table, { now });
  assert.equal(done.deleted, 2);
  assert.equal(await store.head(decodeURIComponent(old!.path)), undefined);
  assert.ok(await store.head(decodeURIComponent(mid!.path)), "removed 3 days ago: kept for time travel");
  assert.ok(await store.head("_hidden/old.parquet"));
  assert.ok(await store.head("_src=j/part-orphan-new.parquet"));
  assert.deepEqual((await table.readRows()).map((r) => Number(r.id)).sort(), [2, 4]);
});
