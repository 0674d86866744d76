import { type Clock, systemClock } from "../../ports/clock.ts";
import type { ObjectStore } from "../../ports/object_store.ts";
import { POLICIES } from "../retry/policies.ts";
import { retry } from "../retry/retry.ts";
import { type Action, encodeCommit } from "./actions.ts";
import { ConcurrentDeleteReadError, ConcurrentTransactionError, MetadataChangedError, TableError, VersionRaceLostError } from "./errors.ts";
import { commitKey } from "./log_paths.ts";
import { readCommit, type Snapshot } from "./snapshot.ts";
import { VERSION } from "../../version.ts";

/** What a commit is, for its commitInfo and for conflict checks. */
export interface CommitRequest {
  /** The actions to commit (no commitInfo: it is added here). */
  actions: Action[];
  /** Spark's operation name: `WRITE`, `MERGE`, `CREATE TABLE`, … */
  operation: string;
  /**
   * Shown in commitInfo; values are strings, as Spark writes them (OPTIMIZE's `auto` is the
   * one boolean Spark writes).
   */
  operationParameters?: Record<string, string | boolean>;
  operationMetrics?: Record<string, string>;
  /** Only adds (and txns): concurrent commits of others never conflict with it. */
  isBlindAppend: boolean;
  /** Paths of files this commit read (a rewrite): a winner removing one of them aborts it. */
  readPaths?: ReadonlySet<string>;
  /**
   * commitInfo's `isolationLevel`. @default `WriteSerializable` for blind appends, else
   * `Serializable` (Spark's OPTIMIZE writes `SnapshotIsolation`)
   */
  isolationLevel?: string;
}

export interface CommitOptions {
  /** Clock in ms. @default Date.now */
  now?: () => number;
  /** The clock of the retry loop (no pauses: it only times the failures). @default systemClock */
  clock?: Clock;
  /** Called each time a race for a version is lost. */
  onRetry?: (lostVersion: number) => void;
}

/** The `engineInfo` of every commitInfo this library writes. */
export const ENGINE_INFO = `data-subscriber/${VERSION}`;

/**
 * Commits actions at the version after `snapshot`, with optimistic concurrency.
 *
 * Each attempt creates `_delta_log/<v>.json` only if absent. On losing version `v`, the
 * winning commits are read and checked: a metaData or protocol change, a `txn` for one of
 * our application ids, or the removal of a file we read ends the attempt with a
 * {@link CommitConflictError}; otherwise they are applied to `snapshot` and the same
 * actions are tried at the next free version, at once ({@link POLICIES.deltaVersionRace}).
 * On success the actions are applied to `snapshot` too.
 *
 * @returns the version committed.
 * @throws {CommitConflictError} (a subclass per cause) when a winner conflicts.
 * @throws {RetryExhaustedError} after losing the policy's number of races (its cause a
 *   {@link VersionRaceLostError}).
 */
export async function commit(store: ObjectStore, snapshot: Snapshot, req: CommitRequest, options: CommitOptions = {}): Promise<number> {
  const now = options.now ?? Date.now;
  const appIds = new Set(req.actions.flatMap((a) => (a.txn ? [a.txn.appId] : [])));
  const txnId = crypto.randomUUID();
  const attempt = async (): Promise<number> => {
    const version = snapshot.version + 1;
    // With in-commit timestamps the commit's time is in its commitInfo, after the previous one's.
    const ict = inCommitTimestamps(snapshot) ? Math.max(now(), (await previousInCommitTimestamp(store, snapshot)) + 1) : undefined;
    const info: Action = {
      commitInfo: {
        ...(ict !== undefined ? { inCommitTimestamp: ict } : {}),
        timestamp: ict ?? now(),
        operation: req.operation,
        operationParameters: req.operationParameters ?? {},
        ...(snapshot.version >= 0 ? { readVersion: snapshot.version } : {}),
        isolationLevel: req.isolationLevel ?? (req.isBlindAppend ? "WriteSerializable" : "Serializable"),
        isBlindAppend: req.isBlindAppend,
        operationMetrics: req.operationMetrics ?? {},
        engineInfo: ENGINE_INFO,
        txnId,
      },
    };
    const actions = [info, ...withRowIds(snapshot, version, req.actions)];
    if (await store.putIfAbsent(commitKey(version), encodeCommit(actions))) {
      snapshot.apply(version, actions);
      // This commit is the newest version as of now.
      snapshot.confirmedAt = now();
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
      // Our own commit, whose creation was answered as lost (a retried request after the
      // first was applied): it stands, at that version.
      if (winner.some((a) => a.commitInfo?.txnId === txnId)) {
        snapshot.apply(v, winner);
        return v;
      }
      checkConflicts(v, winner, appIds, req.readPaths);
      snapshot.apply(v, winner);
    }
    throw new VersionRaceLostError(`${store.url}: version ${version} was committed by another writer first`, version);
  };
  return retry(attempt, POLICIES.deltaVersionRace, {
    clock: options.clock ?? systemClock,
    retriable: (err) => err instanceof VersionRaceLostError,
  });
}

/** The domain that holds the row id high-water mark. */
const ROW_TRACKING_DOMAIN = "delta.rowTracking";

/**
 * With the `rowTracking` feature, each new file gets the ids after the table's high-water
 * mark (`baseRowId`, its rows numbered on from it) and this version as its
 * `defaultRowCommitVersion`, and the commit moves the mark past them. Computed per attempt:
 * a lost race brings another writer's mark.
 * @throws {TableError} when a new file has no `numRecords` to count its rows by.
 */
function withRowIds(snapshot: Snapshot, version: number, actions: readonly Action[]): Action[] {
  const p = snapshot.protocol;
  if (!p || !(p.writerFeatures ?? []).includes("rowTracking") || !actions.some((a) => a.add)) return [...actions];
  const domain = snapshot.domains.get(ROW_TRACKING_DOMAIN);
  let mark = domain ? Number((JSON.parse(domain.configuration) as { rowIdHighWaterMark?: unknown }).rowIdHighWaterMark ?? -1) : -1;
  const out = actions.map((a) => {
    if (!a.add) return a;
    const n = a.add.stats ? (JSON.parse(a.add.stats) as { numRecords?: unknown }).numRecords : undefined;
    if (typeof n !== "number") throw new TableError(`Row tracking numbers the rows of '${a.add.path}' by its numRecords, which its stats lack`);
    const add = { ...a.add, baseRowId: mark + 1, defaultRowCommitVersion: version };
    mark += n;
    return { add };
  });
  out.push({ domainMetadata: { domain: ROW_TRACKING_DOMAIN, configuration: JSON.stringify({ rowIdHighWaterMark: mark }), removed: false } });
  return out;
}

/** Whether the table's commits carry in-commit timestamps: the feature, and `delta.enableInCommitTimestamps` true. */
function inCommitTimestamps(snapshot: Snapshot): boolean {
  const p = snapshot.protocol;
  return !!p && p.minWriterVersion >= 7 && (p.writerFeatures ?? []).includes("inCommitTimestamp") &&
    (snapshot.metadata?.configuration?.["delta.enableInCommitTimestamps"] ?? "").toLowerCase() === "true";
}

/** The newest version's in-commit timestamp: the snapshot's, or its commit file's when loaded from a checkpoint. */
async function previousInCommitTimestamp(store: ObjectStore, snapshot: Snapshot): Promise<number> {
  if (snapshot.lastInCommitTimestamp !== undefined) return snapshot.lastInCommitTimestamp;
  const info = (await readCommit(store, snapshot.version))?.find((a) => a.commitInfo)?.commitInfo;
  const ict = info?.inCommitTimestamp;
  if (typeof ict === "number") {
    snapshot.lastInCommitTimestamp = ict;
    return ict;
  }
  // The version that turned them on has none before it: the commit's own time then.
  return snapshot.lastCommitTimestamp;
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
