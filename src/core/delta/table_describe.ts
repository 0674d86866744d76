/**
 * What `tables describe` reports of a table: version, protocol, live and small files, what
 * awaits vacuum, the newest checkpoint, the last OPTIMIZE and VACUUM, and the properties that
 * say how long the log and removed files are kept.
 * @module
 */
import { descriptorOf } from "./deletion_vector.ts";
import { protocolFeatures } from "./protocol_support.ts";
import type { DeltaTable } from "./table.ts";
import { type HistoryEntry, listLog, readHistory } from "./table_history.ts";
import {
  APPEND_ONLY,
  CHECKPOINT_INTERVAL,
  DELETED_FILE_RETENTION_DURATION,
  ENABLE_EXPIRED_LOG_CLEANUP,
  LOG_RETENTION_DURATION,
  type TableProperty,
  tableProperty,
} from "./table_properties.ts";

/** The default size below which a live file counts as small: 128 MiB. */
export const DEFAULT_TARGET_FILE_SIZE = 128 * 1024 * 1024;

/** How far back `describe` looks for the last OPTIMIZE and VACUUM, in commits. */
export const DEFAULT_HISTORY_DEPTH = 10_000;

export interface DescribeOptions {
  /** A live file smaller than this is small. @default {@link DEFAULT_TARGET_FILE_SIZE} */
  targetFileSize?: number;
  /** Newest commits read for the last OPTIMIZE and VACUUM. @default {@link DEFAULT_HISTORY_DEPTH} */
  historyDepth?: number;
  /** Wall-clock time, ms, to tell expired tombstones. @default Date.now() */
  now?: number;
}

/** One commit of note (the last OPTIMIZE, the last VACUUM). */
export interface NotedCommit {
  version: number;
  timestamp: string;
  operation: string;
  operationParameters: Record<string, string>;
  operationMetrics: Record<string, string>;
}

/** The report of one table. */
export interface TableDescription {
  version: number;
  protocol: {
    minReaderVersion: number;
    minWriterVersion: number;
    /** Reader and writer features, named (legacy versions too: writer 2 is appendOnly + invariants). */
    readerFeatures: string[];
    writerFeatures: string[];
  };
  partitionColumns: string[];
  /** Live files: how many, their bytes, and their rows from stats (`null` when a file has none). */
  liveFiles: { count: number; bytes: number; rows: number | null };
  /** Live files smaller than `targetFileSize`: compaction candidates, with how many partitions hold them. */
  smallFiles: { targetFileSize: number; count: number; bytes: number; partitions: number };
  /**
   * Files removed from the table (tombstones the log still carries): `total`, and of them
   * `expired`, removed longer ago than `delta.deletedFileRetentionDuration`, which the next
   * `tables vacuum` deletes (if they are still there). Orphans no commit names are not known
   * without listing the folder: `tables vacuum --dry-run` lists them.
   */
  awaitingVacuum: { total: { count: number; bytes: number }; expired: { count: number; bytes: number } };
  /** The newest complete checkpoint's version, `null` when there is none. */
  lastCheckpointVersion: number | null;
  /** The oldest version whose commit is still in the log: time travel reaches back to it. */
  oldestVersion: number | null;
  lastCommit: { version: number; timestamp: string; operation: string | null } | null;
  /** The newest OPTIMIZE commit among the commits searched, or `null`. */
  lastOptimize: NotedCommit | null;
  /** The newest VACUUM END (or a VACUUM START with no END after it), or `null`. */
  lastVacuum: NotedCommit | null;
  /** Commits read for `lastOptimize` and `lastVacuum`, and whether that was the whole log. */
  historySearched: { commits: number; complete: boolean };
  /** The properties this tool honours, as in effect (the default where the table sets none). */
  properties: {
    checkpointInterval: number;
    logRetentionDuration: string;
    logRetentionMs: number;
    deletedFileRetentionDuration: string;
    deletedFileRetentionMs: number;
    enableExpiredLogCleanup: boolean;
    appendOnly: boolean;
  };
  /** The table's `metaData.configuration`, as written. */
  configuration: Record<string, string>;
}

/** Describes a table (opened with `anyProtocol` when any protocol should be described). */
export async function describeTable(table: DeltaTable, options: DescribeOptions = {}): Promise<TableDescription> {
  await table.refresh();
  const snap = table.snapshot;
  const now = options.now ?? Date.now();
  const target = options.targetFileSize ?? DEFAULT_TARGET_FILE_SIZE;
  let bytes = 0;
  let rows: number | null = 0;
  let small = 0;
  let smallBytes = 0;
  const smallPartitions = new Set<string>();
  for (const f of snap.files.values()) {
    bytes += f.size;
    const n = f.stats ? (JSON.parse(f.stats) as { numRecords?: unknown }).numRecords : undefined;
    // numRecords counts a file's rows before its deletion vector.
    rows = rows !== null && typeof n === "number" ? rows + n - (descriptorOf(f.deletionVector)?.cardinality ?? 0) : null;
    if (f.size < target) {
      small++;
      smallBytes += f.size;
      smallPartitions.add(JSON.stringify(snap.partitionColumns.map((c) => f.partitionValues[c] ?? null)));
    }
  }
  const retentionMs = snap.property(DELETED_FILE_RETENTION_DURATION);
  const total = { count: 0, bytes: 0 };
  const expired = { count: 0, bytes: 0 };
  for (const rm of snap.tombstones.values()) {
    total.count++;
    total.bytes += rm.size ?? 0;
    if ((rm.deletionTimestamp ?? 0) < now - retentionMs) {
      expired.count++;
      expired.bytes += rm.size ?? 0;
    }
  }
  const listing = await listLog(table.store);
  const depth = options.historyDepth ?? DEFAULT_HISTORY_DEPTH;
  let lastOptimize: HistoryEntry | undefined;
  let lastVacuum: HistoryEntry | undefined;
  let searched = 0;
  const history = await readHistory(table.store, {
    listing,
    limit: depth,
    until: (e) => {
      searched++;
      if (e.operation === "OPTIMIZE") lastOptimize ??= e;
      // The newest VACUUM END, or a START not followed by an END (running, or died).
      if (e.operation === "VACUUM END" || e.operation === "VACUUM START") lastVacuum ??= e;
      return lastOptimize !== undefined && lastVacuum !== undefined && lastVacuum.operation === "VACUUM END";
    },
  });
  const newest = history[0];
  const p = snap.protocol ?? { minReaderVersion: 1, minWriterVersion: 2 };
  const features = protocolFeatures(p);
  const text = (prop: TableProperty<number>) => snap.metadata?.configuration[prop.key] ?? `interval ${prop.defaultValue / 86_400_000} days`;
  return {
    version: snap.version,
    protocol: { minReaderVersion: p.minReaderVersion, minWriterVersion: p.minWriterVersion, readerFeatures: features.reader, writerFeatures: features.writer },
    partitionColumns: snap.partitionColumns,
    liveFiles: { count: snap.files.size, bytes, rows },
    smallFiles: { targetFileSize: target, count: small, bytes: smallBytes, partitions: smallPartitions.size },
    awaitingVacuum: { total, expired },
    lastCheckpointVersion: listing.checkpoints.at(-1) ?? null,
    oldestVersion: listing.commits[0]?.version ?? null,
    lastCommit: newest ? { version: newest.version, timestamp: newest.timestamp, operation: newest.operation } : null,
    lastOptimize: lastOptimize ? noted(lastOptimize) : null,
    lastVacuum: lastVacuum ? noted(lastVacuum) : null,
    historySearched: { commits: searched, complete: searched >= listing.commits.length },
    properties: {
      checkpointInterval: snap.property(CHECKPOINT_INTERVAL),
      logRetentionDuration: text(LOG_RETENTION_DURATION),
      logRetentionMs: snap.property(LOG_RETENTION_DURATION),
      deletedFileRetentionDuration: text(DELETED_FILE_RETENTION_DURATION),
      deletedFileRetentionMs: retentionMs,
      enableExpiredLogCleanup: tableProperty(snap.metadata?.configuration, ENABLE_EXPIRED_LOG_CLEANUP),
      appendOnly: snap.property(APPEND_ONLY),
    },
    configuration: { ...(snap.metadata?.configuration ?? {}) },
  };
}

function noted(e: HistoryEntry): NotedCommit {
  return { version: e.version, timestamp: e.timestamp, operation: e.operation ?? "", operationParameters: e.operationParameters, operationMetrics: e.operationMetrics ?? {} };
}
