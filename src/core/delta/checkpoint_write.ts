import { NotFoundError, type ObjectStore } from "../../ports/object_store.ts";
import { rowsToArrow } from "../arrow/rows_to_arrow.ts";
import { writeParquet } from "../parquet/parquet.ts";
import { checkpointKey, LAST_CHECKPOINT } from "./log_paths.ts";
import { array, field, map, struct, type StructType } from "./schema.ts";
import type { Snapshot } from "./snapshot.ts";

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
export const CHECKPOINT_SCHEMA: StructType = struct(
  f("txn", struct(f("appId", "string"), f("version", "long"), f("lastUpdated", "long"))),
  f("add", struct(
    f("path", "string"), f("partitionValues", strMap), f("size", "long"), f("modificationTime", "long"),
    f("dataChange", "boolean"), f("tags", strMap), f("deletionVector", deletionVector), f("baseRowId", "long"),
    f("defaultRowCommitVersion", "long"), f("clusteringProvider", "string"), f("stats", "string"),
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

export interface CheckpointOptions {
  /** Clock in ms, to expire tombstones. @default Date.now */
  now?: number;
}

/**
 * Writes a classic single-file checkpoint of `snapshot` and points `_last_checkpoint` at
 * it. Tombstones older than `delta.deletedFileRetentionDuration` (1 week) are dropped.
 */
export async function writeCheckpoint(store: ObjectStore, snapshot: Snapshot, options: CheckpointOptions = {}): Promise<void> {
  const now = options.now ?? Date.now();
  const retention = parseInterval(snapshot.config("delta.deletedFileRetentionDuration", "interval 1 week"));
  const rows: Record<string, unknown>[] = [];
  if (snapshot.protocol) rows.push({ protocol: snapshot.protocol });
  if (snapshot.metadata) rows.push({ metaData: snapshot.metadata });
  for (const txn of snapshot.txns.values()) rows.push({ txn });
  for (const add of snapshot.files.values()) {
    rows.push({ add: { ...add, dataChange: false } });
  }
  for (const remove of snapshot.tombstones.values()) {
    if ((remove.deletionTimestamp ?? 0) <= now - retention) continue;
    rows.push({ remove: { ...remove, dataChange: false } });
  }
  const { batch } = rowsToArrow(CHECKPOINT_SCHEMA, rows);
  const bytes = writeParquet([batch], { codec: "snappy" });
  await store.put(checkpointKey(snapshot.version), bytes);
  // Never move the hint backwards past a newer checkpoint a concurrent writer made (a stale
  // hint would still be correct, only slower to read from).
  const previous = await readLastCheckpointVersion(store);
  if (previous >= snapshot.version) return;
  const last = { version: snapshot.version, size: rows.length, sizeInBytes: bytes.length, numOfAddFiles: snapshot.files.size };
  await store.put(LAST_CHECKPOINT, new TextEncoder().encode(JSON.stringify(last)));
}

const UNIT_MS: Record<string, number> = {
  millisecond: 1, second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000,
};

/**
 * Parses a Delta interval setting such as `interval 30 days`.
 * @throws {RangeError} naming the value when it is not an interval.
 */
export function parseInterval(s: string): number {
  const m = /^\s*(?:interval\s+)?(\d+)\s+(millisecond|second|minute|hour|day|week)s?\s*$/i.exec(s);
  if (!m) throw new RangeError(`Expected an interval like 'interval 30 days': got '${s}'`);
  return Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
}

/** The version `_last_checkpoint` names, or -1 when there is none (or it is unreadable). */
export async function readLastCheckpointVersion(store: ObjectStore): Promise<number> {
  try {
    const last = JSON.parse(new TextDecoder().decode(await store.get(LAST_CHECKPOINT))) as { version?: unknown };
    return typeof last.version === "number" ? last.version : -1;
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof SyntaxError) return -1;
    throw err;
  }
}
