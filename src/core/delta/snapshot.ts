import type { ObjectStore } from "../../ports/object_store.ts";
import { NotFoundError } from "../../ports/object_store.ts";
import { type Action, type Add, decodeCommit, type DomainMetadata, type Metadata, type Protocol, type Remove, type Txn } from "./actions.ts";
import { parseSchema, type StructType } from "../schema/schema.ts";
import { readCheckpoint } from "./checkpoint_read.ts";
import { deletionVectorId, descriptorOf } from "./deletion_vector.ts";
import { unsupportedForWrite } from "./protocol_support.ts";
import { TableError } from "./errors.ts";
import { readLastCheckpointVersion } from "./last_checkpoint.ts";
import { commitKey, LOG_DIR, pad20, parseLogKey } from "./log_paths.ts";
import { LOG_RETENTION_DURATION, type TableProperty, tableProperty } from "./table_properties.ts";

/**
 * The state of a table at one version: protocol, metadata, live files, tombstones and the
 * latest `txn` version per application id.
 */
export class Snapshot {
  version = -1;
  protocol: Protocol | undefined;
  metadata: Metadata | undefined;
  /** Live data files by their `path`. */
  readonly files = new Map<string, Add>();
  /** Removed files by their `path` (kept for checkpoints until they expire). */
  readonly tombstones = new Map<string, Remove>();
  readonly txns = new Map<string, Txn>();
  /** Timestamp (ms) of the newest commit applied, from its commitInfo when present. */
  lastCommitTimestamp = 0;
  /**
   * The newest version's `inCommitTimestamp` (the `inCommitTimestamp` feature): undefined when
   * that version had none, or when the snapshot was loaded from a checkpoint of it (the
   * commit file then says; see `commit`).
   */
  lastInCommitTimestamp: number | undefined;
  /** Live domains (the `domainMetadata` feature), by name: kept in checkpoints, never changed here. */
  readonly domains = new Map<string, DomainMetadata>();
  /**
   * Wall-clock time (ms) when this snapshot was last seen to be the newest: the next
   * version's commit file was absent. Log cleanup removes only files older than
   * `delta.logRetentionDuration`, so within half that time an absent next version cannot
   * have been removed: it does not exist yet.
   */
  confirmedAt = -Infinity;
  /**
   * Whether a protocol above what this library writes (1/2) is refused when applied. Off only
   * for inspection and maintenance (`tables describe`, `history`, `vacuum`), whose callers
   * check the table's features themselves (`protocol_support.ts`).
   */
  readonly checksProtocol: boolean;
  #schema: StructType | undefined;

  constructor(options: SnapshotOptions = {}) {
    this.checksProtocol = !options.anyProtocol;
  }

  /** The table schema. @throws {TableError} before version 0 is applied. */
  get schema(): StructType {
    if (!this.metadata) throw new TableError("The table has no metaData yet");
    this.#schema ??= parseSchema(this.metadata.schemaString);
    return this.#schema;
  }

  get partitionColumns(): string[] {
    return this.metadata?.partitionColumns ?? [];
  }

  /**
   * The value of a table property in the table's `configuration`, or its default.
   * @throws {TableError} when the table sets it to a value that is not valid.
   */
  property<T>(property: TableProperty<T>): T {
    return tableProperty(this.metadata?.configuration, property);
  }

  /** Latest committed `txn.version` of an application id, or -1. */
  txnVersion(appId: string): number {
    return this.txns.get(appId)?.version ?? -1;
  }

  /** Applies the actions of one version, in order. */
  apply(version: number, actions: readonly Action[]): void {
    let changed = false;
    let ict: number | undefined;
    for (const a of actions) {
      if (a.add) {
        this.files.set(a.add.path, a.add);
        this.tombstones.delete(a.add.path);
      } else if (a.remove) {
        // A file is its path and its deletion vector: a DELETE that gives a file a new vector
        // removes (path, old vector) and adds (path, new vector), in either order.
        const live = this.files.get(a.remove.path);
        if (live && deletionVectorId(descriptorOf(live.deletionVector)) === deletionVectorId(descriptorOf(a.remove.deletionVector))) this.files.delete(a.remove.path);
        this.tombstones.set(a.remove.path, a.remove);
      } else if (a.txn) {
        this.txns.set(a.txn.appId, a.txn);
      } else if (a.metaData) {
        this.metadata = a.metaData;
        this.#schema = undefined;
        changed = true;
      } else if (a.protocol) {
        if (this.checksProtocol) checkWritable(a.protocol);
        this.protocol = a.protocol;
        changed = true;
      } else if (a.domainMetadata) {
        if (a.domainMetadata.removed) this.domains.delete(a.domainMetadata.domain);
        else this.domains.set(a.domainMetadata.domain, a.domainMetadata);
      } else if (a.commitInfo) {
        if (typeof a.commitInfo.timestamp === "number") this.lastCommitTimestamp = a.commitInfo.timestamp;
        if (typeof a.commitInfo.inCommitTimestamp === "number") ict = a.commitInfo.inCommitTimestamp;
      }
    }
    this.lastInCommitTimestamp = ict;
    // A feature's use (a constraint, a generated column) is in the metadata.
    if (changed && this.checksProtocol && this.protocol) checkWritable(this.protocol, this.metadata);
    this.version = version;
  }

  /**
   * Brings the snapshot to the newest version: reads the commits after its version and
   * applies them. It never takes an absent next commit for the end of the log on trust:
   * when the snapshot has not been confirmed as the newest for half the log retention, the
   * next commit may have been removed by log cleanup, so the log is listed and, when newer
   * files are there, the snapshot is loaded again from the newest checkpoint.
   * @param now wall-clock time, ms.
   * @returns how many versions it moved forward.
   */
  async update(store: ObjectStore, now: number = Date.now()): Promise<number> {
    const from = this.version;
    for (let v = this.version + 1; ; v++) {
      const actions = await readCommit(store, v);
      if (actions) {
        this.apply(v, actions);
        continue;
      }
      if (v === from + 1 && now - this.confirmedAt > this.property(LOG_RETENTION_DURATION) / 2 && (await newerLogFiles(store, this.version))) {
        const fresh = await loadSnapshot(store, now, { anyProtocol: !this.checksProtocol });
        if (!fresh) throw new TableError(`${store.url}: the table's log vanished`);
        this.#replaceWith(fresh);
      }
      break;
    }
    this.confirmedAt = now;
    return this.version - from;
  }

  #replaceWith(other: Snapshot): void {
    if (other.version < this.version) throw new TableError(`Cannot move a snapshot back from version ${this.version} to ${other.version}`);
    this.version = other.version;
    this.protocol = other.protocol;
    this.metadata = other.metadata;
    this.#schema = undefined;
    this.lastCommitTimestamp = other.lastCommitTimestamp;
    this.lastInCommitTimestamp = other.lastInCommitTimestamp;
    this.domains.clear();
    for (const [k, v] of other.domains) this.domains.set(k, v);
    for (const [target, source] of [[this.files, other.files], [this.tombstones, other.tombstones], [this.txns, other.txns]] as const) {
      (target as Map<string, unknown>).clear();
      for (const [k, v] of source as Map<string, unknown>) (target as Map<string, unknown>).set(k, v);
    }
  }
}

/** Whether `_delta_log/` holds a commit or checkpoint newer than `version`. */
async function newerLogFiles(store: ObjectStore, version: number): Promise<boolean> {
  for await (const meta of store.list(LOG_DIR, { startAfter: `${LOG_DIR}${pad20(version)}.json` })) {
    const f = parseLogKey(meta.key);
    if (f.kind !== "other" && f.version > version) return true;
  }
  return false;
}

/** Reads one commit file, or `undefined` if that version does not exist yet. */
export async function readCommit(store: ObjectStore, version: number): Promise<Action[] | undefined> {
  try {
    return decodeCommit(await store.get(commitKey(version)), `${store.url}/${commitKey(version)}`);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/**
 * Refuses a table this library cannot write into as its protocol asks, naming each reason.
 * @throws {TableError}
 */
function checkWritable(p: Protocol, m?: Metadata): void {
  const reasons = unsupportedForWrite(p, m);
  if (reasons.length === 0) return;
  throw new TableError(
    `The table (protocol ${p.minReaderVersion}/${p.minWriterVersion}, reader/writer` +
      `${p.readerFeatures?.length || p.writerFeatures?.length ? `, features ${[...new Set([...(p.readerFeatures ?? []), ...(p.writerFeatures ?? [])])].join(", ")}` : ""}) ` +
      `asks what data-subscriber does not do: ${reasons.join("; ")}. ` +
      `Write to a new location, or remove what the table uses (e.g. ALTER TABLE … DROP CONSTRAINT, or DROP FEATURE in Spark).`,
  );
}

/** How a snapshot is loaded. */
export interface SnapshotOptions {
  /**
   * Load a table whatever its protocol (reader and writer versions, table features), for
   * reading its log only; the caller checks what it needs. @default false
   */
  anyProtocol?: boolean;
}

/**
 * Loads the newest snapshot: the newest complete checkpoint (found through
 * `_last_checkpoint`, then a listing), plus every later JSON commit.
 * @returns `undefined` when the folder holds no Delta table.
 * @throws {TableError} when the log has a gap or needs an unsupported protocol.
 */
export async function loadSnapshot(store: ObjectStore, now: number = Date.now(), options: SnapshotOptions = {}): Promise<Snapshot | undefined> {
  const hint = await readLastCheckpointVersion(store);
  const commits = new Set<number>();
  const checkpoints = new Map<number, { parts: number; keys: Map<number, string> }>();
  const startAfter = hint >= 0 ? `${LOG_DIR}${pad20(hint)}` : undefined;
  for await (const meta of store.list(LOG_DIR, startAfter !== undefined ? { startAfter } : {})) {
    const f = parseLogKey(meta.key);
    if (f.kind === "commit") commits.add(f.version);
    else if (f.kind === "checkpoint") {
      const cp = checkpoints.get(f.version) ?? { parts: f.parts ?? 1, keys: new Map() };
      cp.keys.set(f.part ?? 1, meta.key);
      checkpoints.set(f.version, cp);
    }
  }
  if (hint >= 0 && !checkpoints.has(hint)) {
    // `startAfter` skipped the hinted checkpoint's own files: list them.
    for await (const meta of store.list(`${LOG_DIR}${pad20(hint)}.checkpoint`)) {
      const f = parseLogKey(meta.key);
      if (f.kind !== "checkpoint") continue;
      const cp = checkpoints.get(f.version) ?? { parts: f.parts ?? 1, keys: new Map() };
      cp.keys.set(f.part ?? 1, meta.key);
      checkpoints.set(f.version, cp);
    }
  }
  const complete = [...checkpoints.entries()].filter(([, cp]) => cp.keys.size === cp.parts).map(([v]) => v).sort((a, b) => b - a);
  const snap = new Snapshot(options);
  let from = 0;
  const cpVersion = complete[0];
  if (cpVersion !== undefined) {
    const cp = checkpoints.get(cpVersion)!;
    const actions: Action[] = [];
    for (let part = 1; part <= cp.parts; part++) actions.push(...(await readCheckpoint(store, cp.keys.get(part)!)));
    snap.apply(cpVersion, actions);
    from = cpVersion + 1;
  } else if (hint >= 0) {
    // _last_checkpoint pointed at a checkpoint that is gone: replay the whole log.
    for await (const meta of store.list(LOG_DIR)) {
      const f = parseLogKey(meta.key);
      if (f.kind === "commit") commits.add(f.version);
    }
  }
  const versions = [...commits].filter((v) => v >= from).sort((a, b) => a - b);
  if (cpVersion === undefined && versions.length === 0) return undefined;
  if (cpVersion === undefined && versions[0] !== 0) {
    throw new TableError(`${store.url}: the log starts at version ${versions[0]} and has no checkpoint to start from`);
  }
  for (let i = 0; i < versions.length; i++) {
    const v = versions[i]!;
    if (v !== from + i) throw new TableError(`${store.url}: the log has no version ${from + i} (found ${v} after it)`);
    const actions = await readCommit(store, v);
    if (!actions) throw new TableError(`${store.url}: version ${v} vanished while reading the log`);
    snap.apply(v, actions);
  }
  // Commits made after the listing (which has just confirmed the rest).
  snap.confirmedAt = now;
  await snap.update(store, now);
  if (!snap.metadata || !snap.protocol) throw new TableError(`${store.url}: the log has no metaData or protocol action`);
  return snap;
}
