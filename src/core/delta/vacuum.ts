/**
 * VACUUM: deletes the files in a table's folder that no version within the retention
 * references, as Spark's `VACUUM` and delta-rs' `vacuum` do, with Spark's `VACUUM START` and
 * `VACUUM END` commits around the deletes.
 *
 * What is kept, whatever its age: every live file, and every removed file whose tombstone
 * (`remove.deletionTimestamp`) is within the retention, since versions from then on still
 * read it (time travel to them keeps working); and every file modified within the retention,
 * referenced or not (a writer's files not committed yet). What is deleted: the other files
 * of the folder, orphans of crashed writers included, except under hidden folders and
 * hidden names (`_…`, `.…`: `_delta_log/`, `_change_data/`, `.crc` files), where a
 * partition folder (`<partition column>=…`) is never taken for a hidden one.
 * @module
 */
import type { ObjectStore } from "../../ports/object_store.ts";
import { TableError } from "./errors.ts";
import { actionPathToKey } from "./partitions.ts";
import { unsupportedForVacuum } from "./protocol_support.ts";
import type { DeltaTable } from "./table.ts";
import { DELETED_FILE_RETENTION_DURATION } from "./table_properties.ts";

/** How to vacuum. */
export interface VacuumOptions {
  /** Files older than this, and tombstones older than this, go. @default the table's `delta.deletedFileRetentionDuration` (7 days) */
  retentionMs?: number;
  /** Allow a retention shorter than the table's setting. @default false */
  force?: boolean;
  /** Wall-clock time, ms. @default Date.now() */
  now?: number;
  /** Deletes at once. @default 8 */
  parallelism?: number;
}

/** A file vacuum deletes (or would). */
export interface VacuumFile {
  /** Key under the table's folder. */
  key: string;
  size: number;
  /** Last modification, ms. */
  lastModified: number;
}

/** What a vacuum found to delete. */
export interface VacuumPlan {
  /** The retention used, ms. */
  retentionMs: number;
  /** The table's `delta.deletedFileRetentionDuration`, ms. */
  tableRetentionMs: number;
  /** Files modified, and tombstones made, before this time (ms) are not kept. */
  deleteBefore: number;
  /** Files to delete, by key. */
  files: VacuumFile[];
  /** Their bytes. */
  bytes: number;
  /** Files listed in the table's folder outside hidden folders. */
  filesListed: number;
  /** Folders those files are in, the table's own included (Spark's `numVacuumedDirectories`). */
  directories: number;
  /** The table version the plan was made against. */
  version: number;
}

/** What a vacuum did. */
export interface VacuumResult extends VacuumPlan {
  /** Files deleted (the plan's, less those a commit made after the plan started using). */
  deleted: number;
  /** The `VACUUM START` and `VACUUM END` versions. */
  startVersion: number;
  endVersion: number;
}

/** The retention asked for is shorter than the table's own and `force` was not given. */
export class VacuumRetentionError extends TableError {
  override name = "VacuumRetentionError";
}

/** The table has features vacuum does not understand; `features` names them. */
export class UnsupportedFeaturesError extends TableError {
  override name = "UnsupportedFeaturesError";
  constructor(message: string, readonly features: readonly string[]) {
    super(message);
  }
}

/**
 * Finds what a vacuum deletes, deleting nothing.
 * @throws {UnsupportedFeaturesError} when the table's protocol has a feature vacuum does not understand.
 * @throws {VacuumRetentionError} when the retention is shorter than the table's and not forced.
 * @throws {TableError} when an action names an absolute path that is not under the table.
 */
export async function planVacuum(table: DeltaTable, options: VacuumOptions = {}): Promise<VacuumPlan> {
  await table.refresh();
  checkVacuumable(table);
  const snap = table.snapshot;
  const tableRetentionMs = snap.property(DELETED_FILE_RETENTION_DURATION);
  const retentionMs = options.retentionMs ?? tableRetentionMs;
  if (retentionMs < tableRetentionMs && !options.force) {
    throw new VacuumRetentionError(
      `${table.store.url}: a retention of ${formatDuration(retentionMs)} is shorter than the table's ${DELETED_FILE_RETENTION_DURATION.key} ` +
        `(${formatDuration(tableRetentionMs)}): files that readers of versions within it, or writers still committing, need could be deleted. ` +
        `Pass --force to vacuum with it anyway, or --retain '${formatDuration(tableRetentionMs)}' or more`,
    );
  }
  const now = options.now ?? Date.now();
  const deleteBefore = now - retentionMs;
  const keep = referencedKeys(table, deleteBefore);
  const partitionColumns = snap.partitionColumns;
  const files: VacuumFile[] = [];
  const dirs = new Set<string>([""]);
  let listed = 0;
  for await (const meta of table.store.list("")) {
    if (hiddenPath(meta.key, partitionColumns)) continue;
    listed++;
    dirs.add(meta.key.slice(0, meta.key.lastIndexOf("/") + 1));
    if (keep.has(meta.key) || meta.lastModified >= deleteBefore) continue;
    files.push({ key: meta.key, size: meta.size, lastModified: meta.lastModified });
  }
  return {
    retentionMs,
    tableRetentionMs,
    deleteBefore,
    files,
    bytes: files.reduce((n, f) => n + f.size, 0),
    filesListed: listed,
    directories: dirs.size,
    version: snap.version,
  };
}

/**
 * Vacuums the table: plans, commits `VACUUM START` (Spark's parameters and metrics), deletes
 * the files, and commits `VACUUM END` with `status` COMPLETED (or FAILED, when a delete
 * failed; the error is then thrown). Before deleting, the log is read again and any file a
 * newer commit references is left alone.
 * @throws what {@link planVacuum} throws, and the store's errors.
 */
export async function vacuum(table: DeltaTable, options: VacuumOptions = {}): Promise<VacuumResult> {
  const plan = await planVacuum(table, options);
  const startVersion = await table.commitOperation("VACUUM START", {
    retentionCheckEnabled: String(!options.force),
    ...(options.retentionMs !== undefined ? { specifiedRetentionMillis: String(Math.round(options.retentionMs)) } : {}),
    defaultRetentionMillis: String(Math.round(plan.tableRetentionMs)),
  }, { numFilesToDelete: String(plan.files.length), sizeOfDataToDelete: String(plan.bytes) });
  // Commits made since the plan (its own START included) are in the snapshot now.
  const keep = referencedKeys(table, plan.deleteBefore);
  const doomed = plan.files.filter((f) => !keep.has(f.key));
  let deleted = 0;
  try {
    const parallel = options.parallelism ?? 8;
    for (let i = 0; i < doomed.length; i += parallel) {
      await Promise.all(doomed.slice(i, i + parallel).map((f) => table.store.delete(f.key)));
      deleted = Math.min(doomed.length, i + parallel);
    }
  } catch (err) {
    await table.commitOperation("VACUUM END", { status: "FAILED" }, {}).catch(() => undefined);
    throw err;
  }
  const endVersion = await table.commitOperation("VACUUM END", { status: "COMPLETED" }, {
    numDeletedFiles: String(deleted),
    numVacuumedDirectories: String(plan.directories),
  });
  return { ...plan, deleted, startVersion, endVersion };
}

/**
 * Checks the table's whole protocol, reader and writer features, before a vacuum (the
 * `vacuumProtocolCheck` feature asks it of every vacuum; here it is done for every table).
 * @throws {UnsupportedFeaturesError} naming the features not understood.
 */
export function checkVacuumable(table: DeltaTable): void {
  const protocol = table.snapshot.protocol;
  if (!protocol) throw new TableError(`${table.store.url}: the log has no protocol action`);
  const unknown = unsupportedForVacuum(protocol);
  if (unknown.length > 0) {
    throw new UnsupportedFeaturesError(
      `${table.store.url}: cannot vacuum a table with ${unknown.length === 1 ? "the feature" : "the features"} ${unknown.map((f) => `'${f}'`).join(", ")} ` +
        `(protocol ${protocol.minReaderVersion}/${protocol.minWriterVersion}): data-subscriber does not know which files ${unknown.length === 1 ? "it keeps" : "they keep"} in the table's folder; vacuum it with Spark`,
      unknown,
    );
  }
}

/** Keys of the live files and of the files removed at or after `deleteBefore`. */
function referencedKeys(table: DeltaTable, deleteBefore: number): Set<string> {
  const snap = table.snapshot;
  const keys = new Set<string>();
  for (const add of snap.files.values()) keys.add(keyOf(table.store, add.path));
  for (const rm of snap.tombstones.values()) {
    // As Spark: a tombstone without a deletion time counts as made at 0 (long expired).
    if ((rm.deletionTimestamp ?? 0) >= deleteBefore) keys.add(keyOf(table.store, rm.path));
  }
  return keys;
}

/**
 * The key under the table's folder of an action's path: a relative, URI-encoded path, or an
 * absolute URI under the table's own location.
 * @throws {TableError} for an absolute path elsewhere (vacuum could not tell whether a file it lists is that one).
 */
function keyOf(store: ObjectStore, path: string): string {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(path)) return actionPathToKey(path);
  const norm = (u: string) => u.replace(/^s3a:\/\//, "s3://").replace(/^file:\/(?!\/)/, "file:///").replace(/^file:\/\/(?!\/)/, "file:///");
  const root = norm(store.url).replace(/\/+$/, "") + "/";
  const abs = norm(path);
  if (abs.startsWith(root)) return actionPathToKey(abs.slice(root.length));
  throw new TableError(`${store.url}: the log names the file '${path}', outside the table's folder; vacuum it with Spark`);
}

/**
 * Whether vacuum leaves a key alone: a folder or file name starting with `_` or `.`, unless
 * it is a partition folder (`<column>=…`), as Spark's `isHiddenDirectory` decides (here
 * `_change_data/` and `_delta_index/` are left alone too: vacuum does not read cdc actions).
 */
export function hiddenPath(key: string, partitionColumns: readonly string[]): boolean {
  for (const part of key.split("/")) {
    if ((part.startsWith("_") || part.startsWith(".")) && !partitionColumns.some((c) => part.startsWith(`${c}=`))) return true;
  }
  return false;
}

/**
 * A duration for people: the largest of days, hours, minutes, seconds and milliseconds that
 * divides it, e.g. `7 days`, `36 hours`, `90 seconds`.
 */
export function formatDuration(ms: number): string {
  const units: [number, string][] = [[86_400_000, "day"], [3_600_000, "hour"], [60_000, "minute"], [1000, "second"], [1, "millisecond"]];
  if (ms === 0) return "0 hours";
  for (const [size, name] of units) {
    if (ms % size === 0) {
      const n = ms / size;
      return `${n} ${name}${n === 1 ? "" : "s"}`;
    }
  }
  return `${ms} milliseconds`;
}
