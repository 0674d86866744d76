import type { ObjectStore } from "../../ports/object_store.ts";
import { rowsToArrow } from "../arrow/rows_to_arrow.ts";
import { writeParquet } from "../parquet/parquet.ts";
import { array, field, map, struct, type StructType } from "../schema/schema.ts";
import { readLastCheckpointVersion, writeLastCheckpoint } from "./last_checkpoint.ts";
import { checkpointKey } from "./log_paths.ts";
import type { Snapshot } from "./snapshot.ts";
import { columnMappingMode, physicalColumnNames, physicalSchema } from "./column_mapping.ts";
import { type ParsedStatsSchema, parsedStatsSchema, partitionValuesParsed, statsParsed } from "./checkpoint_stats.ts";
import { CHECKPOINT_WRITE_STATS_AS_JSON, CHECKPOINT_WRITE_STATS_AS_STRUCT, DATA_SKIPPING_NUM_INDEXED_COLS, DELETED_FILE_RETENTION_DURATION } from "./table_properties.ts";

const strMap = map("string", "string");
const f = (name: string, type: Parameters<typeof field>[1]) => field(name, type, true);
const deletionVector = struct(
  f("storageType", "string"), f("pathOrInlineDv", "string"), f("offset", "integer"),
  f("sizeInBytes", "integer"), f("cardinality", "long"), f("maxRowIndex", "long"),
);

/**
 * The checkpoint schema in the column and field order Spark (Delta 3.3) writes, every
 * field nullable as Spark makes them. Unused columns (domainMetadata, deletion vectors,
 * row ids) are present and null, as in Spark's files.
 */
export const CHECKPOINT_SCHEMA: StructType = checkpointSchema({ json: true });

/**
 * The checkpoint schema of a table: {@link CHECKPOINT_SCHEMA}'s columns, the add's `stats`
 * string only when `json` (`delta.checkpoint.writeStatsAsJson`), and after it, with
 * `parsed` (`delta.checkpoint.writeStatsAsStruct`), `partitionValues_parsed` (partitioned
 * tables) and `stats_parsed`, where delta-spark puts them.
 */
function checkpointSchema(options: { json: boolean; parsed?: ParsedStatsSchema; v2?: boolean }): StructType {
  const p = options.parsed;
  const schema = struct(
  f("txn", struct(f("appId", "string"), f("version", "long"), f("lastUpdated", "long"))),
  f("add", struct(
    f("path", "string"), f("partitionValues", strMap), f("size", "long"), f("modificationTime", "long"),
    f("dataChange", "boolean"), f("tags", strMap), f("deletionVector", deletionVector), f("baseRowId", "long"),
    f("defaultRowCommitVersion", "long"), f("clusteringProvider", "string"),
    ...(options.json ? [f("stats", "string")] : []),
    ...(p?.partitionValues ? [f("partitionValues_parsed", p.partitionValues)] : []),
    ...(p ? [f("stats_parsed", p.stats)] : []),
  )),
  f("remove", struct(
    f("path", "string"), f("deletionTimestamp", "long"), f("dataChange", "boolean"), f("extendedFileMetadata", "boolean"),
    f("partitionValues", strMap), f("size", "long"), f("deletionVector", deletionVector), f("baseRowId", "long"),
    f("defaultRowCommitVersion", "long"),
  )),
  f("metaData", struct(
    f("id", "string"), f("name", "string"), f("description", "string"),
    f("format", struct(f("provider", "string"), f("options", strMap))),
    f("schemaString", "string"), f("partitionColumns", array("string")), f("configuration", strMap), f("createdTime", "long"),
  )),
  f("protocol", struct(
    f("minReaderVersion", "integer"), f("minWriterVersion", "integer"),
    f("readerFeatures", array("string")), f("writerFeatures", array("string")),
  )),
  f("domainMetadata", struct(f("domain", "string"), f("configuration", "string"), f("removed", "boolean"))),
  );
  // A V2-spec checkpoint (v2Checkpoint tables) names its version in one checkpointMetadata action.
  if (options.v2) schema.fields.push(f("checkpointMetadata", struct(f("version", "long"), f("tags", strMap))));
  return schema;
}

export interface CheckpointOptions {
  /** Clock in ms, to expire tombstones. @default Date.now */
  now?: number;
}

/**
 * Writes a classic single-file checkpoint of `snapshot` and points `_last_checkpoint` at
 * it; for a v2Checkpoint table, classic-named and in the V2 spec (a checkpointMetadata
 * action, no sidecars), which PROTOCOL.md allows. Tombstones older than {@link DELETED_FILE_RETENTION_DURATION} (1 week) are dropped.
 * @throws {TableError} when the table's retention property is not valid.
 */
export async function writeCheckpoint(store: ObjectStore, snapshot: Snapshot, options: CheckpointOptions = {}): Promise<void> {
  const now = options.now ?? Date.now();
  const retention = snapshot.property(DELETED_FILE_RETENTION_DURATION);
  const json = snapshot.property(CHECKPOINT_WRITE_STATS_AS_JSON);
  const parsed = snapshot.property(CHECKPOINT_WRITE_STATS_AS_STRUCT) ? parsedSchemaOf(snapshot) : undefined;
  const v2 = (snapshot.protocol?.writerFeatures ?? []).includes("v2Checkpoint");
  const rows: Record<string, unknown>[] = [];
  if (v2) rows.push({ checkpointMetadata: { version: snapshot.version, tags: null } });
  if (snapshot.protocol) rows.push({ protocol: snapshot.protocol });
  if (snapshot.metadata) rows.push({ metaData: snapshot.metadata });
  for (const txn of snapshot.txns.values()) rows.push({ txn });
  for (const domainMetadata of snapshot.domains.values()) rows.push({ domainMetadata });
  for (const add of snapshot.files.values()) {
    const row: Record<string, unknown> = { ...add, dataChange: false };
    if (!json) delete row.stats;
    if (parsed) {
      row.stats_parsed = statsParsed(add, parsed);
      if (parsed.partitionValues) row.partitionValues_parsed = partitionValuesParsed(add, parsed.partitionValues);
    }
    rows.push({ add: row });
  }
  for (const remove of snapshot.tombstones.values()) {
    if ((remove.deletionTimestamp ?? 0) <= now - retention) continue;
    rows.push({ remove: { ...remove, dataChange: false } });
  }
  const { batch } = rowsToArrow(checkpointSchema({ json, v2, ...(parsed ? { parsed } : {}) }), rows);
  const bytes = writeParquet([batch], { codec: "snappy" });
  await store.put(checkpointKey(snapshot.version), bytes);
  // Never move the hint backwards past a newer checkpoint a concurrent writer made (a stale
  // hint would still be correct, only slower to read from).
  const previous = await readLastCheckpointVersion(store);
  if (previous >= snapshot.version) return;
  await writeLastCheckpoint(store, { version: snapshot.version, size: rows.length, sizeInBytes: bytes.length, numOfAddFiles: snapshot.files.size });
}

/**
 * The struct stats types of a snapshot's table, or undefined when its schema has a type
 * this library does not know (the checkpoint is then written with JSON stats only, which
 * every reader accepts).
 */
function parsedSchemaOf(snapshot: Snapshot): ParsedStatsSchema | undefined {
  try {
    // Stats and partition values of a column-mapped table are keyed by physical names.
    if (columnMappingMode(snapshot.metadata) === "name") {
      return parsedStatsSchema(physicalSchema(snapshot.schema), physicalColumnNames(snapshot.schema, snapshot.partitionColumns), snapshot.property(DATA_SKIPPING_NUM_INDEXED_COLS));
    }
    return parsedStatsSchema(snapshot.schema, snapshot.partitionColumns, snapshot.property(DATA_SKIPPING_NUM_INDEXED_COLS));
  } catch {
    return undefined;
  }
}
