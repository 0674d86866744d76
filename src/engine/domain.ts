import type { Add } from "../core/delta/actions.ts";
import type { BuiltBatch } from "../core/arrow/rows_to_arrow.ts";
import type { DeltaTable, TableSpec } from "../core/delta/table.ts";
import type { UserRecord } from "../core/kinesis/records.ts";

/**
 * A domain: what the records of a stream mean and which tables they make. The engine
 * (readers, leases, batches, the exactly-once protocol, the Delta sink) takes one and
 * knows nothing else about the data.
 *
 * What the engine guarantees a domain:
 * - every record of the stream reaches `decode` once per batch attempt, in shard order,
 *   and lands in the domain's tables (or in quarantine) exactly once;
 * - `rows` is called only after `decode` succeeded for the values it gets, and only for
 *   the shards of the batch that the table does not hold yet;
 * - a batch is committed to no table unless every table's files for it could be built;
 * - the prepare step's decision is recorded in its commit and handed back unchanged on
 *   every replay of that batch.
 *
 * What a domain must guarantee the engine:
 * - `decode` and `rows` (or `columns`) are deterministic: the same records (and batch time) give the
 *   same values and rows, on every worker and every replay;
 * - a value `decode` accepted fits the columns it goes to (ranges, finiteness): a value
 *   that cannot be written is a quarantine reason, found in `decode`, not a failure later;
 * - `rows` (or `columns`) never throws for values `decode` accepted.
 */
export interface Domain<V = unknown, D = unknown> {
  /** The domain's name, for messages. */
  readonly name: string;
  /**
   * One user record as a value, or the reason it goes to quarantine (naming the field, the
   * value and what was expected). Never throws.
   */
  decode(record: UserRecord): Decoded<V>;
  /** The tables the domain appends to, in commit order; each is created when missing. */
  readonly tables: readonly DomainTable<V, D>[];
  /** A step run once per batch before the appends, whose decision the rows may use. */
  readonly prepare?: PrepareStep<V, D>;
}

/** What `decode` makes of a record. */
export type Decoded<V> = { ok: true; value: V } | { ok: false; reason: string };

/** The values of one shard of a batch, with the prepare step's decision for them. */
export interface BatchPart<V, D> {
  shardId: string;
  values: readonly V[];
  /** The prepare step's decision that covers this shard (undefined without a prepare step). */
  decision: D;
}

/** What a table's `rows` gets: the batch's parts this table does not hold yet. */
export interface BatchView<V, D> {
  stream: string;
  /** The batch's time, µs since the epoch; the same on every replay. */
  batchTime: bigint;
  parts: readonly BatchPart<V, D>[];
}

/** A table a domain appends to. */
export interface DomainTable<V, D> {
  /** The table's name in configuration and messages. */
  readonly name: string;
  /** Its schema and layout, used to create it when missing. */
  readonly spec: TableSpec;
  /** This batch's rows for the table (may be empty). A table gives `rows` or `columns`. */
  rows?(batch: BatchView<V, D>): Record<string, unknown>[];
  /**
   * This batch's rows for the table as columns of `spec.schema`, built straight from the
   * values (see `core/arrow/column_builders.ts`), with their statistics: what `rows`
   * would give, without a JS object per row. For unpartitioned tables. May have no rows.
   */
  columns?(batch: BatchView<V, D>): BuiltBatch;
}

/** What a prepare step wants committed to its table: a copy-on-write rewrite of some files. */
export interface PreparedChange<D> {
  decision: D;
  /** Files replaced by `rows` (their rows are all in `rows`, changed or not). */
  replaced: readonly Add[];
  rows: readonly Record<string, unknown>[];
  /** Spark's commitInfo operation, e.g. `MERGE`. */
  operation: string;
  /** commitInfo parameters; the decision must be readable back from them. */
  operationParameters: Record<string, string>;
  operationMetrics: Record<string, string>;
}

/**
 * A step that changes one existing table per batch and decides something the appended rows
 * depend on (the order domain's package_table MERGE: which package groups got stock).
 *
 * The engine runs it first, builds every table's files, commits the step's table, then the
 * others. On replay, when the step's table already holds the batch, `readBack` recovers the
 * decision from that commit's commitInfo instead of deciding again against a table that
 * has moved on.
 */
export interface PrepareStep<V, D> {
  /** The table it changes; it must exist (it is never created). */
  readonly table: string;
  /** Why the run cannot start when the table is missing, and what to do. */
  missingTable(url: string): string;
  /**
   * Checks, at start, that the existing table can be changed by this step (the columns it
   * reads and writes, their types); whatever else the table holds must be kept as it is.
   * @throws {TableError} naming the table, each unusable column and what it needs.
   */
  checkTable?(table: DeltaTable): void;
  /**
   * Decides for the given values against the table as it is now (its snapshot is fresh).
   * A `TableError` or a concurrent change makes the engine refresh and call it again.
   */
  decide(values: readonly V[], table: DeltaTable): Promise<PreparedChange<D>>;
  /** The decision recorded by `decide`'s commit, from its commitInfo parameters. */
  readBack(operationParameters: Record<string, string>): D;
  /** The decision for a batch that has no values for it (e.g. only bad records). */
  readonly empty: D;
}
