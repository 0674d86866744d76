import { getLogger } from "@logtape/logtape";
import * as arrow from "apache-arrow";
import type { ObjectStore } from "../../ports/object_store.ts";
import { tableToRows, type ValueOptions } from "../arrow/arrow_to_rows.ts";
import { adoptedBatch } from "../arrow/adopted_batch.ts";
import { type BuiltBatch, rowsToArrow } from "../arrow/rows_to_arrow.ts";
import { columnMappingMode, logicalRow, physicalBatch, physicalColumnNames, physicalName, physicalSchema, withColumnMapping } from "./column_mapping.ts";
import { descriptorOf, readDeletionVector } from "./deletion_vector.ts";
import { CODEC_SUFFIX, type Codec, readParquet, writeParquet } from "../parquet/parquet.ts";
import { type Action, type Add, type Metadata, type Protocol, type Remove, type Txn } from "./actions.ts";
import { writeCheckpoint } from "./checkpoint_write.ts";
import { cleanupExpiredLogs } from "./log_cleanup.ts";
import { commit, type CommitOptions } from "./commit.ts";
import { MetadataChangedError, SchemaMismatchError, TableError } from "./errors.ts";
import { actionPathToKey, keyToActionPath, parsePartitionValue, partitionFolder, serializePartitionValue } from "./partitions.ts";
import { field, type StructField, struct, type StructType } from "../schema/schema.ts";
import { adoptSchema, type ColumnAdoption, type SchemaAdoption } from "../schema/schema_adoption.ts";
import { LOG_DIR, parseLogKey } from "./log_paths.ts";
import { loadSnapshot, readCommit, Snapshot } from "./snapshot.ts";
import { statsJson } from "./stats.ts";
import {
  APPEND_ONLY,
  CHECKPOINT_INTERVAL,
  checkTableProperties,
  DATA_SKIPPING_NUM_INDEXED_COLS,
  ENABLE_EXPIRED_LOG_CLEANUP,
} from "./table_properties.ts";

type Row = Readonly<Record<string, unknown>>;

/** What a new table looks like. */
export interface TableSpec {
  schema: StructType;
  /** @default [] */
  partitionColumns?: string[];
  /**
   * Table properties, e.g. `delta.checkpointInterval`; those this library honours are in
   * `table_properties.ts` and are checked before the table is created. @default {}
   */
  configuration?: Record<string, string>;
  name?: string;
  description?: string;
}

/** How this process writes to a table. */
export interface WriterOptions {
  /** Parquet compression. @default "zstd" */
  codec?: Codec;
  /** Rows per data file at most (per partition). @default 1_000_000 */
  maxRowsPerFile?: number;
  /** Clock in ms. @default Date.now */
  now?: () => number;
  /** Called each time a commit race is lost. */
  onRetry?: (lostVersion: number) => void;
  /**
   * Open a table whatever its protocol (for `tables describe`, `history` and `vacuum`, which
   * check the table's features themselves); writing data to such a table is not supported.
   * @default false
   */
  anyProtocol?: boolean;
  /**
   * Called when a checkpoint or log cleanup fails after a commit succeeded (the commit
   * stands; the next checkpoint covers it). @default a WARN line on the `data-subscriber.delta` logger
   */
  onCheckpointError?: (err: unknown, version: number) => void;
  /**
   * When an existing table lacks columns of the spec (`openOrCreate`), add them as nullable
   * columns at the end, in one metaData commit (Spark's `mergeSchema`; the table's id,
   * partitioning, configuration and protocol are kept); without it such a table is refused.
   * Other mismatches (a type that would lose data, a NOT NULL column without a value) are
   * refused either way. @default false
   */
  evolveSchema?: boolean;
  /** Called after schema evolution committed `version`, adding `added`. */
  onSchemaEvolved?: (added: StructField[], version: number) => void;
}

/** The outcome of a write: the version made, or `undefined` when every txn was already applied. */
export interface WriteResult {
  version: number | undefined;
  adds: Add[];
  removes: Remove[];
}

export interface WriteOptions {
  /** `txn` actions to commit with the data; the write is skipped if all are applied already. */
  txns?: Txn[];
}

export interface RewriteOptions extends WriteOptions {
  /** commitInfo operation. @default "MERGE" */
  operation?: string;
  operationParameters?: Record<string, string | boolean>;
  operationMetrics?: Record<string, string>;
  /** commitInfo's `isolationLevel` (see `CommitRequest`). */
  isolationLevel?: string;
}

/**
 * A Delta table: create or open it, append rows, rewrite files (copy-on-write), read.
 *
 * Keeps a snapshot in memory and brings it up to date with the log's newer commits
 * before each write. Checkpoints every `delta.checkpointInterval` (10) versions and then
 * removes log files older than `delta.logRetentionDuration` (30 days); refuses removes
 * when `delta.appendOnly` is set (see `table_properties.ts`).
 */
export class DeltaTable {
  readonly store: ObjectStore;
  readonly snapshot: Snapshot;
  readonly #options: WriterOptions;
  /**
   * How rows of the spec are written into an existing table whose schema is not the spec's
   * (see `schema_adoption.ts`); undefined when the rows are written as they are.
   */
  #adoption: SchemaAdoption | undefined;

  private constructor(store: ObjectStore, snapshot: Snapshot, options: WriterOptions) {
    this.store = store;
    this.snapshot = snapshot;
    this.#options = options;
  }

  /** @throws {TableError} when the store holds no Delta table. */
  static async open(store: ObjectStore, options: WriterOptions = {}): Promise<DeltaTable> {
    const snap = await loadSnapshot(store, (options.now ?? Date.now)(), { anyProtocol: options.anyProtocol ?? false });
    if (!snap) throw new TableError(`No Delta table at ${store.url} (no _delta_log/ commits found)`);
    return new DeltaTable(store, snap, options);
  }

  /**
   * Opens the table, creating it with `spec` if there is none. When another writer creates
   * it at the same moment, its version 0 wins.
   *
   * An existing table is written in its own schema and partitioning: rows of `spec.schema`
   * are converted column by column where no data is lost (`schema_adoption.ts`: nulls for
   * the nullable columns not in the spec, `timestamp → string`, `integer → long`, …). With
   * `evolveSchema`, the spec's columns the table lacks are added first.
   * @throws {SchemaMismatchError} when an existing table cannot take the spec's rows
   * losslessly, naming each column.
   * @throws {TableError} when `spec` sets a table property to a value that is not valid.
   */
  static async openOrCreate(store: ObjectStore, spec: TableSpec, options: WriterOptions = {}): Promise<DeltaTable> {
    let snap = await loadSnapshot(store, (options.now ?? Date.now)());
    if (!snap) {
      checkTableProperties(spec.configuration ?? {});
      const now = (options.now ?? Date.now)();
      const protocol: Protocol = { minReaderVersion: 1, minWriterVersion: 2 };
      const metaData: Metadata = {
        id: crypto.randomUUID(),
        ...(spec.name !== undefined ? { name: spec.name } : {}),
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        format: { provider: "parquet", options: {} },
        schemaString: JSON.stringify(spec.schema),
        partitionColumns: spec.partitionColumns ?? [],
        configuration: spec.configuration ?? {},
        createdTime: now,
      };
      for (const c of metaData.partitionColumns) {
        if (!spec.schema.fields.some((f) => f.name === c)) throw new TableError(`Partition column '${c}' is not in the schema`);
      }
      // Version 0 through the one commit path; if another writer created the table first,
      // its version 0 (a metaData change to us) is the table, checked below.
      const fresh = new Snapshot();
      try {
        await commit(store, fresh, {
          actions: [{ protocol }, { metaData }],
          operation: "CREATE TABLE",
          operationParameters: {
            partitionBy: JSON.stringify(metaData.partitionColumns),
            description: spec.description ?? "",
            isManaged: "false",
            properties: JSON.stringify(metaData.configuration),
          },
          isBlindAppend: true,
        }, { now: () => now });
        snap = fresh;
      } catch (err) {
        if (!(err instanceof MetadataChangedError)) throw err;
        snap = await loadSnapshot(store, (options.now ?? Date.now)());
      }
      if (!snap) throw new TableError(`${store.url}: created version 0 but cannot read it back`);
    }
    const table = new DeltaTable(store, snap, options);
    await table.#adopt(spec.schema);
    return table;
  }

  /**
   * How the spec's columns are written into this table when its schema is another one: each
   * table column with its source and conversion; undefined when rows are written as they are.
   */
  get adoption(): readonly ColumnAdoption[] | undefined {
    return this.#adoption?.columns;
  }

  /** Plans writing rows of `produced` into the table, evolving its schema first when allowed. */
  async #adopt(produced: StructType): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const plan = adoptSchema(produced, this.snapshot.schema);
      const missing = plan.mismatches.filter((m) => m.missing);
      if (plan.mismatches.length > missing.length || (missing.length > 0 && !this.#options.evolveSchema)) {
        throw new SchemaMismatchError([{ url: this.store.url, mismatches: plan.mismatches }]);
      }
      if (missing.length === 0) {
        this.#adoption = plan.identical ? undefined : plan;
        return;
      }
      const names = new Set(missing.map((m) => m.column));
      try {
        await this.#addColumns(produced.fields.filter((f) => names.has(f.name)));
      } catch (err) {
        // Another writer changed the schema first (the same evolution, maybe): plan again.
        if (!(err instanceof MetadataChangedError) || attempt >= 3) throw err;
        await this.refresh();
      }
    }
  }

  /**
   * Adds columns at the end of the schema, nullable, in one metaData commit that keeps the
   * table's id, partitioning, configuration and protocol (`ALTER TABLE ADD COLUMNS`, what
   * Spark's `mergeSchema` commits). Conflicts with any concurrent metaData or protocol change.
   */
  async #addColumns(fields: StructField[]): Promise<void> {
    await this.refresh();
    const old = this.snapshot.metadata!;
    let added: StructField[] = fields.map((f) => ({ ...f, nullable: true }));
    let configuration = old.configuration;
    // Column mapping: each new column (nested ones too) gets the next ids and a physical name.
    if (columnMappingMode(old) === "name") {
      const mapped = withColumnMapping(added, Number(configuration["delta.columnMapping.maxColumnId"] ?? 0));
      added = mapped.fields;
      configuration = { ...configuration, "delta.columnMapping.maxColumnId": String(mapped.maxId) };
    }
    const schema: StructType = { type: "struct", fields: [...this.snapshot.schema.fields, ...added] };
    const metaData: Metadata = { ...old, configuration, schemaString: JSON.stringify(schema) };
    const commitOptions: CommitOptions = { now: this.#now.bind(this), ...(this.#options.onRetry ? { onRetry: this.#options.onRetry } : {}) };
    const version = await commit(this.store, this.snapshot, {
      actions: [{ metaData }],
      operation: "ADD COLUMNS",
      operationParameters: { columns: JSON.stringify(added.map((column) => ({ column }))) },
      isBlindAppend: false,
    }, commitOptions);
    this.#options.onSchemaEvolved?.(added, version);
    await this.#maybeCheckpoint(version);
  }

  get version(): number {
    return this.snapshot.version;
  }

  /** Brings the snapshot up to the newest version in the log. */
  async refresh(): Promise<void> {
    await this.snapshot.update(this.store, this.#now());
  }

  /**
   * Writes rows as new data files (one or more per partition) and returns their add
   * actions, without committing. Rows are of the table's schema, or, for a table opened by
   * `openOrCreate` with another schema than its spec's, of the spec's (see {@link adoption}).
   */
  async writeFiles(rows: readonly Row[]): Promise<Add[]> {
    const schema = this.snapshot.schema;
    const partCols = this.snapshot.partitionColumns;
    const dataSchema = this.dataSchema;
    const groups = new Map<string, { values: Record<string, string | null>; rows: Row[] }>();
    const adoption = this.#adoption?.columns;
    if (partCols.length === 0) groups.set("", { values: {}, rows: rows as Row[] });
    else {
      const types = partCols.map((c) => schema.fields.find((f) => f.name === c)!.type);
      // An adopted table's partition values come from the produced columns, converted.
      const sources = partCols.map((c) => adoption?.find((a) => a.field.name === c));
      const valueOf = (row: Row, i: number): unknown => {
        if (!adoption) return row[partCols[i]!];
        const a = sources[i];
        const v = a?.from ? (row[a.from.name] ?? null) : null;
        return v === null || !a?.convert ? v : a.convert(v);
      };
      for (const row of rows) {
        const values: Record<string, string | null> = {};
        partCols.forEach((c, i) => (values[c] = serializePartitionValue(types[i]!, valueOf(row, i), c)));
        const key = JSON.stringify(partCols.map((c) => values[c]));
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { values, rows: [] }));
        g.rows.push(row);
      }
    }
    const maxRows = this.#options.maxRowsPerFile ?? 1_000_000;
    const dataColumns = adoption?.filter((a) => !partCols.includes(a.field.name));
    const tracking = materializedRowTracking(this.snapshot);
    const build = (part: readonly Row[]): BuiltBatch => {
      const built = dataColumns ? adoptedBatch(dataColumns, part) : rowsToArrow(dataSchema, part);
      return tracking ? withMaterializedRowIds(built, part, tracking, schema) : built;
    };
    const adds: Add[] = [];
    for (const g of groups.values()) {
      for (let start = 0; start < g.rows.length; start += maxRows) {
        adds.push(await this.#writeFile(build(g.rows.slice(start, start + maxRows)), g.values));
      }
    }
    return adds;
  }

  /**
   * Writes one data file from an Arrow batch built for {@link dataSchema} (with its
   * statistics, as `rowsToArrow` or the column builders give them) and returns its add
   * action, without committing.
   * @throws {TableError} when the table is partitioned.
   */
  async writeBatch(built: BuiltBatch): Promise<Add> {
    if (this.snapshot.partitionColumns.length > 0) throw new TableError(`${this.store.url} is partitioned: write its rows with writeFiles`);
    return await this.#writeFile(built, {});
  }

  /** The table's schema without its partition columns: what the data files hold. */
  get dataSchema(): StructType {
    const schema = this.snapshot.schema;
    const partCols = this.snapshot.partitionColumns;
    return partCols.length === 0 ? schema : { type: "struct", fields: schema.fields.filter((f) => !partCols.includes(f.name)) };
  }

  /** Writes one data file from an Arrow batch built for {@link dataSchema}, and returns its add action. */
  async #writeFile(given: BuiltBatch, logicalValues: Record<string, string | null>): Promise<Add> {
    const codec = this.#options.codec ?? "zstd";
    const numIndexedCols = this.snapshot.property(DATA_SKIPPING_NUM_INDEXED_COLS);
    let built = given;
    let dataSchema = this.dataSchema;
    let partitionColumns = this.snapshot.partitionColumns;
    let partitionValues = logicalValues;
    // Column mapping: the file, its stats and its partition values under the physical names.
    if (columnMappingMode(this.snapshot.metadata) === "name") {
      built = physicalBatch(given, dataSchema);
      dataSchema = physicalSchema(dataSchema);
      partitionColumns = physicalColumnNames(this.snapshot.schema, partitionColumns);
      partitionValues = Object.fromEntries(Object.entries(logicalValues).map(([c, v]) => [physicalColumnNames(this.snapshot.schema, [c])[0]!, v]));
    }
    const bytes = writeParquet([built.batch], { codec });
    const key = `${partitionFolder(partitionColumns, partitionValues)}part-00000-${crypto.randomUUID()}-c000.${CODEC_SUFFIX[codec]}parquet`;
    await this.store.put(key, bytes);
    return {
      path: keyToActionPath(key),
      partitionValues,
      size: bytes.length,
      modificationTime: this.#now(),
      dataChange: true,
      stats: statsJson(dataSchema, built.stats, built.numRows, { numIndexedCols }),
    };
  }

  /**
   * Appends Arrow batches already built for {@link dataSchema} (by `rowsToArrow`, which
   * also gives their statistics), one data file each, in one commit. For an unpartitioned
   * table, or with the `partitionValues` all the batches share.
   */
  async appendBatches(batches: readonly BuiltBatch[], options: WriteOptions & { partitionValues?: Record<string, string | null> } = {}): Promise<WriteResult> {
    await this.refresh();
    if (this.#applied(options.txns)) return { version: undefined, adds: [], removes: [] };
    const partitionValues = options.partitionValues ?? {};
    for (const c of this.snapshot.partitionColumns) {
      if (!(c in partitionValues)) throw new TableError(`Appending Arrow batches to ${this.store.url} needs a value for partition column '${c}'`);
    }
    const adds: Add[] = [];
    for (const b of batches) if (b.numRows > 0) adds.push(await this.#writeFile(b, partitionValues));
    return this.commitFiles(adds, [], { ...(options.txns ? { txns: options.txns } : {}), operation: "WRITE", operationParameters: { mode: "Append", partitionBy: JSON.stringify(this.snapshot.partitionColumns) } });
  }

  /** Appends rows in one commit (a blind append), with `txns` when given. */
  async append(rows: readonly Row[], options: WriteOptions = {}): Promise<WriteResult> {
    await this.refresh();
    if (this.#applied(options.txns)) return { version: undefined, adds: [], removes: [] };
    const adds = rows.length > 0 ? await this.writeFiles(rows) : [];
    return this.commitFiles(adds, [], { ...options, operation: "WRITE", operationParameters: { mode: "Append", partitionBy: JSON.stringify(this.snapshot.partitionColumns) } });
  }

  /**
   * Replaces files by rows in one commit of remove + add actions (copy-on-write), e.g.
   * for a MERGE into a small table. Aborts with a `ConcurrentDeleteReadError` when a
   * concurrent commit removed one of the replaced files.
   */
  async rewrite(replaced: readonly Add[], rows: readonly Row[], options: RewriteOptions = {}): Promise<WriteResult> {
    await this.refresh();
    if (this.#applied(options.txns)) return { version: undefined, adds: [], removes: [] };
    if (replaced.length > 0) this.#checkRemovesAllowed();
    for (const f of replaced) {
      if (!this.snapshot.files.has(f.path)) throw new TableError(`Cannot rewrite '${f.path}': it is not a live file of ${this.store.url}`);
    }
    const adds = rows.length > 0 ? await this.writeFiles(rows) : [];
    return this.commitFiles(adds, this.removesFor(replaced), { operation: "MERGE", ...options });
  }

  /** The `remove` actions that take these files out of the table now (a rewrite's). */
  removesFor(files: readonly Add[]): Remove[] {
    const now = this.#now();
    return files.map((f) => ({
      path: f.path,
      deletionTimestamp: now,
      dataChange: true,
      extendedFileMetadata: true,
      partitionValues: f.partitionValues,
      size: f.size,
      // The file removed is the path with its vector (PROTOCOL.md: a remove names both).
      ...(f.deletionVector ? { deletionVector: f.deletionVector } : {}),
    }));
  }

  /**
   * Commits already written files (and removes), then checkpoints when due.
   * @throws {TableError} when a remove changes data (`dataChange` true) and the table is
   * append-only (PROTOCOL.md: an append-only table's new entries may rearrange its data, as
   * OPTIMIZE does with `dataChange` false, but never change or remove it).
   */
  async commitFiles(adds: Add[], removes: Remove[], options: RewriteOptions & { operation: string }): Promise<WriteResult> {
    if (removes.some((r) => r.dataChange)) this.#checkRemovesAllowed();
    const txns = (options.txns ?? []).map((t) => ({ ...t, lastUpdated: t.lastUpdated ?? this.#now() }));
    const numRows = adds.reduce((n, a) => n + (a.stats ? (JSON.parse(a.stats) as { numRecords: number }).numRecords : 0), 0);
    const commitOptions: CommitOptions = { now: this.#now.bind(this), ...(this.#options.onRetry ? { onRetry: this.#options.onRetry } : {}) };
    const version = await commit(this.store, this.snapshot, {
      actions: [...txns.map((txn) => ({ txn })), ...removes.map((remove) => ({ remove })), ...adds.map((add) => ({ add }))],
      operation: options.operation,
      operationParameters: options.operationParameters ?? {},
      operationMetrics: options.operationMetrics ?? {
        numFiles: String(adds.length),
        numOutputRows: String(numRows),
        numOutputBytes: String(adds.reduce((n, a) => n + a.size, 0)),
        ...(removes.length > 0 ? { numRemovedFiles: String(removes.length) } : {}),
      },
      isBlindAppend: removes.length === 0,
      readPaths: new Set(removes.map((r) => r.path)),
      ...(options.isolationLevel !== undefined ? { isolationLevel: options.isolationLevel } : {}),
    }, commitOptions);
    await this.#maybeCheckpoint(version);
    return { version, adds, removes };
  }

  /**
   * Commits a version that records an operation and changes no file (Spark's `VACUUM START`
   * and `VACUUM END`): commitInfo only, then a checkpoint when due, as every commit here.
   * @returns the version committed.
   */
  async commitOperation(operation: string, operationParameters: Record<string, string>, operationMetrics: Record<string, string>): Promise<number> {
    await this.refresh();
    const commitOptions: CommitOptions = { now: this.#now.bind(this), ...(this.#options.onRetry ? { onRetry: this.#options.onRetry } : {}) };
    const version = await commit(this.store, this.snapshot, { actions: [], operation, operationParameters, operationMetrics, isBlindAppend: true }, commitOptions);
    await this.#maybeCheckpoint(version);
    return version;
  }

  /** All rows of the table (or of the given files), partition values included. */
  async readRows(files: Iterable<Add> = this.snapshot.files.values(), options: ValueOptions = {}): Promise<Record<string, unknown>[]> {
    const schema = this.snapshot.schema;
    const partCols = this.snapshot.partitionColumns;
    const mapped = columnMappingMode(this.snapshot.metadata) === "name";
    const dataSchema = this.dataSchema;
    const out: Record<string, unknown>[] = [];
    const tracking = materializedRowTracking(this.snapshot);
    for (const add of files) {
      const raw = tableToRows(readParquet(await this.store.get(actionPathToKey(add.path))), options);
      // Rows another engine deleted by a deletion vector are not rows of the table.
      const dv = descriptorOf(add.deletionVector);
      const deleted = dv ? await readDeletionVector(this.store, dv) : undefined;
      for (const [i, fileRow] of raw.entries()) {
        if (deleted?.has(i)) continue;
        // Column mapping: the file's columns are the physical names.
        const row = mapped ? logicalRow(fileRow, dataSchema) : fileRow;
        const full: Record<string, unknown> = {};
        for (const f of schema.fields) {
          full[f.name] = partCols.includes(f.name) ? parsePartitionValue(f.type, add.partitionValues[mapped ? physicalName(f) : f.name]) : (row[f.name] ?? null);
        }
        // Row tracking: where the row came from, so that a rewrite keeps its id (and its
        // commit version while it is unchanged). An enumerable symbol: copies carry it.
        if (tracking) {
          const id = (fileRow[tracking.idColumn] as bigint | null | undefined) ?? (add.baseRowId != null ? BigInt(add.baseRowId) + BigInt(i) : null);
          const version = (fileRow[tracking.versionColumn] as bigint | null | undefined) ?? add.defaultRowCommitVersion ?? null;
          (full as Record<symbol, unknown>)[ROW_ORIGIN] = { id, version, values: { ...full } } satisfies RowOrigin;
        }
        out.push(full);
      }
    }
    return out;
  }

  /**
   * Whether every txn is already committed (the write they belong to is in the table).
   * @throws {TableError} when only some are: a batch's txns always commit together.
   */
  isApplied(txns: Txn[] | undefined): boolean {
    return this.#applied(txns);
  }

  /**
   * The actions of the commit that carried `txn(appId, version)`, or undefined when the
   * table does not hold it or log cleanup has removed that commit's file.
   *
   * No horizon: every commit file the log still holds is a candidate. When the snapshot's
   * latest txn of `appId` is this one, its `lastUpdated` (the commit's time) says where to
   * look first: candidates are read nearest in time first, several at once; otherwise the
   * newest first.
   */
  async findTxnCommit(appId: string, version: number): Promise<Action[] | undefined> {
    if (this.snapshot.txnVersion(appId) < version) return undefined;
    const latest = this.snapshot.txns.get(appId);
    const near = latest?.version === version && typeof latest.lastUpdated === "number" ? latest.lastUpdated : undefined;
    const candidates: { version: number; at: number }[] = [];
    for await (const meta of this.store.list(LOG_DIR)) {
      const f = parseLogKey(meta.key);
      if (f.kind === "commit" && f.version <= this.snapshot.version) candidates.push({ version: f.version, at: meta.lastModified });
    }
    candidates.sort(near === undefined ? (a, b) => b.version - a.version : (a, b) => Math.abs(a.at - near) - Math.abs(b.at - near) || b.version - a.version);
    const PARALLEL = 8;
    for (let i = 0; i < candidates.length; i += PARALLEL) {
      const found = await Promise.all(candidates.slice(i, i + PARALLEL).map(async (c) => {
        const actions = await readCommit(this.store, c.version);
        return actions?.some((a) => a.txn?.appId === appId && a.txn.version === version) ? actions : undefined;
      }));
      const hit = found.find((a) => a !== undefined);
      if (hit) return hit;
    }
    return undefined;
  }

  #applied(txns: Txn[] | undefined): boolean {
    if (!txns || txns.length === 0) return false;
    const done = txns.filter((t) => this.snapshot.txnVersion(t.appId) >= t.version);
    if (done.length === 0) return false;
    if (done.length === txns.length) return true;
    throw new TableError(
      `${this.store.url}: txns ${done.map((t) => `${t.appId}@${t.version}`).join(", ")} are committed but ` +
        `${txns.filter((t) => !done.includes(t)).map((t) => `${t.appId}@${t.version}`).join(", ")} are not: the batch was split`,
    );
  }

  #checkRemovesAllowed(): void {
    if (this.snapshot.property(APPEND_ONLY)) {
      throw new TableError(`${this.store.url} is append-only ('${APPEND_ONLY.key}' is true): a commit cannot remove files from it`);
    }
    if ((this.snapshot.protocol?.writerFeatures ?? []).includes("rowTracking") && !materializedRowTracking(this.snapshot)) {
      throw new TableError(
        `${this.store.url} tracks row ids (the rowTracking feature) but names no materialized row id and commit version columns ` +
          `(delta.rowTracking.materializedRowIdColumnName, …): a rewrite could not keep each row's id; appends to it are fine`,
      );
    }
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  async #maybeCheckpoint(version: number): Promise<void> {
    if (version === 0 || this.snapshot.version !== version) return;
    try {
      // Inside the try: a table property that is not valid fails the checkpoint, not the commit.
      if (version % this.snapshot.property(CHECKPOINT_INTERVAL) !== 0) return;
      await writeCheckpoint(this.store, this.snapshot, { now: this.#now() });
      if (this.snapshot.property(ENABLE_EXPIRED_LOG_CLEANUP)) {
        await cleanupExpiredLogs(this.store, this.snapshot, this.#now());
      }
    } catch (err) {
      (this.#options.onCheckpointError ?? logCheckpointError(this.store.url))(err, version);
    }
  }
}

/** The default report of a failed checkpoint: a WARN line through LogTape (silent until the application configures it). */
function logCheckpointError(url: string): (err: unknown, version: number) => void {
  return (err, version) =>
    getLogger(["data-subscriber", "delta"]).warn("The checkpoint of {url} at version {version} failed (the commit stands): {error}", { url, version, error: String(err) });
}

/** Where a row read from a row-tracking table came from (see `readRows`). */
export const ROW_ORIGIN = Symbol("rowOrigin");
interface RowOrigin {
  /** Its row id: materialized, or the file's base row id plus its index. */
  id: bigint | number | null;
  /** Its row commit version: materialized, or the file's default. */
  version: bigint | number | null;
  /** Its values as read, to tell an updated row from a copied one. */
  values: Record<string, unknown>;
}

/** The hidden columns that carry row ids and commit versions through rewrites, when the table names them. */
export function materializedRowTracking(snapshot: Snapshot): { idColumn: string; versionColumn: string } | undefined {
  if (!(snapshot.protocol?.writerFeatures ?? []).includes("rowTracking")) return undefined;
  const config = snapshot.metadata?.configuration ?? {};
  const idColumn = config["delta.rowTracking.materializedRowIdColumnName"];
  const versionColumn = config["delta.rowTracking.materializedRowCommitVersionColumnName"];
  return idColumn && versionColumn ? { idColumn, versionColumn } : undefined;
}

/**
 * A batch with the row-tracking columns added: each row read from the table keeps its id,
 * and its commit version unless it changed (null: the new file's commit version); new rows
 * have neither (they take the new file's base row id and version).
 */
function withMaterializedRowIds(built: BuiltBatch, rows: readonly Row[], tracking: { idColumn: string; versionColumn: string }, schema: StructType): BuiltBatch {
  const ids: unknown[] = [];
  const versions: unknown[] = [];
  for (const row of rows) {
    const origin = (row as Record<symbol, unknown>)[ROW_ORIGIN] as RowOrigin | undefined;
    ids.push(origin?.id ?? null);
    versions.push(origin && sameValues(origin.values, row, schema) ? origin.version : null);
  }
  const extra = rowsToArrow(struct(field(tracking.idColumn, "long"), field(tracking.versionColumn, "long")), ids.map((id, i) => ({ [tracking.idColumn]: id, [tracking.versionColumn]: versions[i] })));
  const fields = [...built.batch.schema.fields, ...extra.batch.schema.fields];
  const children = [...built.batch.data.children, ...extra.batch.data.children];
  const data = arrow.makeData({ type: new arrow.Struct(fields), length: built.numRows, nullCount: 0, children } as never) as unknown as arrow.Data<arrow.Struct>;
  return { ...built, batch: new arrow.RecordBatch(new arrow.Schema(fields, built.batch.schema.metadata), data) };
}

/** Whether a row still has the values it was read with. */
function sameValues(before: Record<string, unknown>, row: Row, schema: StructType): boolean {
  // A long read as a bigint may come back as a number (the MERGE counts stock as numbers): the same value.
  const text = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" || (typeof x === "number" && Number.isInteger(x)) ? String(x) : x instanceof Map ? [...x] : x));
  return schema.fields.every((f) => text(before[f.name] ?? null) === text((row as Record<string, unknown>)[f.name] ?? null));
}
