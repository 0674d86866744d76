/**
 * A table's history as Spark's `DESCRIBE HISTORY` shows it: one entry per commit still in
 * `_delta_log/`, newest first, from its commitInfo.
 * @module
 */
import type { ObjectStore } from "../../ports/object_store.ts";
import type { CommitInfo } from "./actions.ts";
import { LOG_DIR, parseLogKey } from "./log_paths.ts";
import { readCommit } from "./snapshot.ts";

/** What `_delta_log/` holds: its commits (version and file time) and complete checkpoints. */
export interface LogListing {
  /** Commit files, ascending by version. */
  commits: { version: number; lastModified: number }[];
  /** Versions with a complete checkpoint, ascending. */
  checkpoints: number[];
}

/** Lists `_delta_log/`. */
export async function listLog(store: ObjectStore): Promise<LogListing> {
  const commits: { version: number; lastModified: number }[] = [];
  const parts = new Map<number, { parts: number; seen: Set<number> }>();
  for await (const meta of store.list(LOG_DIR)) {
    const f = parseLogKey(meta.key);
    if (f.kind === "commit") commits.push({ version: f.version, lastModified: meta.lastModified });
    else if (f.kind === "checkpoint") {
      const cp = parts.get(f.version) ?? { parts: f.parts ?? 1, seen: new Set<number>() };
      cp.seen.add(f.part ?? 1);
      parts.set(f.version, cp);
    }
  }
  commits.sort((a, b) => a.version - b.version);
  const checkpoints = [...parts].filter(([, cp]) => cp.seen.size === cp.parts).map(([v]) => v).sort((a, b) => a - b);
  return { commits, checkpoints };
}

/**
 * One row of the history, in the columns of Spark's `DESCRIBE HISTORY`: `version`,
 * `timestamp`, then the commitInfo's fields where the commit has them (`userId`, `userName`,
 * `operation`, `operationParameters`, `job`, `notebook`, `clusterId`, `readVersion`,
 * `isolationLevel`, `isBlindAppend`, `operationMetrics`, `userMetadata`, `engineInfo`).
 */
export interface HistoryEntry {
  version: number;
  /**
   * When the commit was made, ISO-8601: its `inCommitTimestamp` when the table has them,
   * else the commit file's modification time, as Spark shows it.
   */
  timestamp: string;
  userId?: string;
  userName?: string;
  /** `null` when the commit has no commitInfo (some writers omit it). */
  operation: string | null;
  operationParameters: Record<string, string>;
  job?: unknown;
  notebook?: unknown;
  clusterId?: string;
  readVersion?: number;
  isolationLevel?: string;
  isBlindAppend?: boolean;
  operationMetrics?: Record<string, string>;
  userMetadata?: string;
  engineInfo?: string;
}

/** Fields copied from commitInfo as they are, in Spark's column order. */
const PASSED: readonly (keyof HistoryEntry)[] = [
  "userId", "userName", "job", "notebook", "clusterId", "readVersion", "isolationLevel", "isBlindAppend", "operationMetrics", "userMetadata", "engineInfo",
];

/** A history entry from a commit's commitInfo (or its absence) and the commit file's time. */
export function historyEntry(version: number, fileTime: number, info: CommitInfo | undefined): HistoryEntry {
  const ict = typeof info?.inCommitTimestamp === "number" ? info.inCommitTimestamp : undefined;
  const entry: HistoryEntry = {
    version,
    timestamp: new Date(ict ?? fileTime).toISOString(),
    operation: typeof info?.operation === "string" ? info.operation : null,
    operationParameters: stringMap(info?.operationParameters),
  };
  for (const k of PASSED) {
    const v = info?.[k];
    if (v === undefined || v === null) continue;
    (entry as unknown as Record<string, unknown>)[k] = k === "operationMetrics" ? stringMap(v) : v;
  }
  return entry;
}

/**
 * Reads the history, newest first: at most `limit` entries (all by default), reading commit
 * files several at once. Stops early when `until` returns true for an entry (it is kept).
 * Commits removed by log cleanup are not there, as in Spark.
 */
export async function readHistory(
  store: ObjectStore,
  options: { limit?: number; listing?: LogListing; until?: (e: HistoryEntry) => boolean } = {},
): Promise<HistoryEntry[]> {
  const listing = options.listing ?? (await listLog(store));
  const wanted = listing.commits.slice().reverse().slice(0, options.limit ?? Infinity);
  const out: HistoryEntry[] = [];
  const PARALLEL = 16;
  for (let i = 0; i < wanted.length; i += PARALLEL) {
    const chunk = await Promise.all(wanted.slice(i, i + PARALLEL).map(async (c) => {
      const actions = await readCommit(store, c.version);
      // Removed by log cleanup since the listing: no longer part of the history.
      if (!actions) return undefined;
      return historyEntry(c.version, c.lastModified, actions.find((a) => a.commitInfo)?.commitInfo);
    }));
    for (const e of chunk) {
      if (!e) continue;
      out.push(e);
      if (options.until?.(e)) return out;
    }
  }
  return out;
}

/** A map of strings, as Spark shows operationParameters and operationMetrics (other values as JSON). */
function stringMap(v: unknown): Record<string, string> {
  if (typeof v !== "object" || v === null) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = typeof x === "string" ? x : JSON.stringify(x);
  return out;
}
