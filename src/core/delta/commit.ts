import type { ObjectStore } from "../../ports/object_store.ts";
import { type Action, encodeCommit } from "./actions.ts";
import { ConcurrentDeleteReadError, ConcurrentTransactionError, MetadataChangedError } from "./errors.ts";
import { commitKey } from "./log_paths.ts";
import { readCommit, type Snapshot } from "./snapshot.ts";

/** What a commit is, for its commitInfo and for conflict checks. */
export interface CommitRequest {
  /** The actions to commit (no commitInfo: it is added here). */
  actions: Action[];
  /** Spark's operation name: `WRITE`, `MERGE`, `CREATE TABLE`, … */
  operation: string;
  /** Shown in commitInfo; values are strings, as Spark writes them. */
  operationParameters?: Record<string, string>;
  operationMetrics?: Record<string, string>;
  /** Only adds (and txns): concurrent commits of others never conflict with it. */
  isBlindAppend: boolean;
  /** Paths of files this commit read (a rewrite): a winner removing one of them aborts it. */
  readPaths?: ReadonlySet<string>;
}

export interface CommitOptions {
  /** Clock in ms. @default Date.now */
  now?: () => number;
  /** Attempts before giving up on a table that keeps moving. @default 100 */
  maxAttempts?: number;
  /** Called each time a race for a version is lost. */
  onRetry?: (lostVersion: number) => void;
}

export const ENGINE_INFO = "data-subscriber/0.1.0";

/**
 * Commits actions at the version after `snapshot`, with optimistic concurrency.
 *
 * Each attempt creates `_delta_log/<v>.json` only if absent. On losing version `v`, the
 * winning commits are read and checked: a metaData or protocol change, a `txn` for one of
 * our application ids, or the removal of a file we read ends the attempt with a
 * {@link CommitConflictError}; otherwise they are applied to `snapshot` and the same
 * actions are tried at the next free version. On success the actions are applied to `snapshot` too.
 *
 * @returns the version committed.
 * @throws {CommitConflictError} (a subclass per cause) when a winner conflicts.
 */
export async function commit(store: ObjectStore, snapshot: Snapshot, req: CommitRequest, options: CommitOptions = {}): Promise<number> {
  const now = options.now ?? Date.now;
  const appIds = new Set(req.actions.flatMap((a) => (a.txn ? [a.txn.appId] : [])));
  const txnId = crypto.randomUUID();
  const maxAttempts = options.maxAttempts ?? 100;
  for (let attempt = 1; ; attempt++) {
    const version = snapshot.version + 1;
    const info: Action = {
      commitInfo: {
        timestamp: now(),
        operation: req.operation,
        operationParameters: req.operationParameters ?? {},
        ...(snapshot.version >= 0 ? { readVersion: snapshot.version } : {}),
        isolationLevel: req.isBlindAppend ? "WriteSerializable" : "Serializable",
        isBlindAppend: req.isBlindAppend,
        operationMetrics: req.operationMetrics ?? {},
        engineInfo: ENGINE_INFO,
        txnId,
      },
    };
    const actions = [info, ...req.actions];
    if (await store.putIfAbsent(commitKey(version), encodeCommit(actions))) {
      snapshot.apply(version, actions);
      return version;
    }
    options.onRetry?.(version);
    // Catch up with every winner, checking each, before the next attempt.
    for (let v = version; ; v++) {
      const winner = await readCommit(store, v);
      if (!winner) {
        if (v === version) throw new Error(`${store.url}: version ${version} exists but could not be read`);
        break;
      }
      checkConflicts(v, winner, appIds, req.readPaths);
      snapshot.apply(v, winner);
    }
    if (attempt >= maxAttempts) {
      throw new Error(`${store.url}: gave up after losing ${attempt} races for a commit version`);
    }
  }
}

function checkConflicts(version: number, winner: readonly Action[], appIds: ReadonlySet<string>, readPaths?: ReadonlySet<string>): void {
  for (const a of winner) {
    if (a.metaData || a.protocol) {
      throw new MetadataChangedError(`Version ${version} changed the table's ${a.metaData ? "metaData" : "protocol"} concurrently`, version);
    }
    if (a.txn && appIds.has(a.txn.appId)) {
      throw new ConcurrentTransactionError(
        `Version ${version} committed txn ${a.txn.version} for '${a.txn.appId}' concurrently: another writer holds this application id`,
        version,
        a.txn.appId,
      );
    }
    if (a.remove && readPaths?.has(a.remove.path)) {
      throw new ConcurrentDeleteReadError(`Version ${version} removed '${a.remove.path}', which this rewrite read`, version, a.remove.path);
    }
  }
}
