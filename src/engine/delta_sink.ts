import { batchRows } from "../core/arrow/adopted_batch.ts";
import type { Add, Remove, Txn } from "../core/delta/actions.ts";
import { ConcurrentDeleteReadError, ConcurrentTransactionError, SchemaMismatchError, TableError, type TableMismatches } from "../core/delta/errors.ts";
import { DeltaTable, type WriterOptions } from "../core/delta/table.ts";
import type { UserRecord } from "../core/kinesis/records.ts";
import { POLICIES } from "../core/retry/policies.ts";
import { retry } from "../core/retry/retry.ts";
import type { Clock } from "../ports/clock.ts";
import type { ObjectStore } from "../ports/object_store.ts";
import { collectBatchGarbage, noteDecoded } from "../util/collect_garbage.ts";
import type { BatchSink, CommitBatch, CommitShard } from "./batch_sink.ts";
import type { BatchPart, Domain, DomainTable } from "./domain.ts";
import type { AutoCompactor } from "./auto_compactor.ts";
import type { FaultHook } from "./fault_point.ts";
import { QUARANTINE_TABLE, quarantineRows, type Rejected } from "./quarantine_table.ts";

/**
 * Memory one JSON object of a record is counted for beyond the payload: the decoded object
 * and, at most, one row on its way to Arrow. Calibrated so that the orders of the benchmark
 * (about 1.5 KB and 12 objects each) weigh about twice their payload.
 */
const OBJECT_BYTES = 128;

const OUTSIDE_SHARD =
  "KPL sub-record whose hash key lies outside this shard's range (aggregated before a reshard): " +
  "the KPL puts it again to the shard that owns it, where it is processed; kept here so it is not counted twice";

/** What the sink reports; telemetry logs and counts it. */
export interface SinkEvents {
  /** A table's part of a batch was committed, as `version` of the table. */
  tableCommitted?(table: string, rows: number, ms: number, version: number | undefined): void;
  /** A table already held some shards of a batch (a replay, or another worker's): they were left out. */
  tableSkipped?(table: string, shards: string[]): void;
  /** A commit met a conflicting concurrent commit and is computed again. */
  conflict?(table: string, err: Error, attempt: number): void;
  /** A commit lost the race for a version and was tried at the next one. */
  versionRaceLost?(table: string, version: number): void;
  /** A Delta checkpoint (or log cleanup) failed after its commit succeeded. */
  checkpointFailed?(table: string, version: number, err: unknown): void;
  /**
   * An existing table is written in its own schema: `conversions` lists each column that is
   * not written as it is produced (`event_timestamp: timestamp → string`, `note: null (not produced)`).
   */
  tableAdopted?(table: string, conversions: string[]): void;
  /** Columns were added to a table's schema (schema evolution), as `version` of the table. */
  schemaEvolved?(table: string, columns: string[], version: number): void;
}

export interface DeltaSinkOptions {
  stream: string;
  clock: Clock;
  writer?: Omit<WriterOptions, "now" | "onRetry" | "onCheckpointError">;
  /** Random numbers for retry jitter. @default Math.random */
  random?: () => number;
  fault?: FaultHook;
  events?: SinkEvents;
  /** Told of every table commit; compacts in the background (`--auto-compact`). */
  compactor?: AutoCompactor;
}

/** One shard of a batch, decoded. */
interface DecodedShard<V> extends CommitShard {
  values: V[];
  rejected: Rejected[];
}

/** A table's files for a batch, written and not yet committed. */
interface PendingTable {
  name: string;
  /** The domain table it is built for (undefined for the prepare step's). */
  source?: DomainTable<unknown, unknown>;
  table: DeltaTable;
  adds: Add[];
  removes: Remove[];
  txns: Txn[];
  rows: number;
  /** commitInfo of a prepare step's commit (appends are `WRITE`). */
  info?: { operation: string; operationParameters: Record<string, string>; operationMetrics: Record<string, string> };
}

/**
 * The generic Delta sink: writes each batch of a domain's records to its tables, exactly
 * once per shard txn. Per batch:
 *
 * 1. every record is decoded by the domain; what it refuses goes to the quarantine table;
 * 2. the prepare step (if any) decides against its table, or, for shards its table already
 *    holds, reads its recorded decision back; its commit is made even when it changes no
 *    row, so every decision the rows follow is in its log and its txn; shards it holds at
 *    a later batch were passed by their next owner and are left out of every table;
 * 3. every table's data files are written — for the shards that table does not hold yet —
 *    before anything is committed, so a batch that cannot be built commits nothing;
 * 4. the prepare step's table is committed, then each other table, every commit carrying
 *    the `txn` of each shard it holds.
 *
 * A prepare commit that meets a concurrent change of the files it read, or another
 * writer's txn for one of its shards, starts the batch again from 2. An append that meets
 * another writer's txn drops the shards that writer committed and writes the rest.
 */
export class DeltaSink<V, D> implements BatchSink {
  readonly #domain: Domain<V, D>;
  readonly #tables: Map<string, DeltaTable>;
  readonly #prepared: DeltaTable | undefined;
  readonly #opts: DeltaSinkOptions;
  readonly #appends: readonly DomainTable<V, D>[];
  /** Decisions read back from the prepare table, per `appId@version`. */
  readonly #readBack = new Map<string, D>();

  private constructor(domain: Domain<V, D>, tables: Map<string, DeltaTable>, prepared: DeltaTable | undefined, options: DeltaSinkOptions) {
    this.#domain = domain;
    this.#tables = tables;
    this.#prepared = prepared;
    this.#opts = options;
    this.#appends = domain.tables;
  }

  /**
   * Opens the domain's tables and the quarantine table, creating those that are missing.
   * @param stores one store per table name, rooted at the table's folder.
   * @throws {TableError} when a table has no location, or the prepare step's table is missing.
   */
  static async open<V, D>(domain: Domain<V, D>, stores: Readonly<Record<string, ObjectStore>>, options: DeltaSinkOptions): Promise<DeltaSink<V, D>> {
    const writer = (name: string): WriterOptions => ({
      ...options.writer,
      now: () => options.clock.wallMs(),
      onRetry: (version) => options.events?.versionRaceLost?.(name, version),
      onCheckpointError: (err, version) => options.events?.checkpointFailed?.(name, version, err),
      onSchemaEvolved: (added, version) => options.events?.schemaEvolved?.(name, added.map((f) => f.name), version),
    });
    const storeOf = (name: string): ObjectStore => {
      const store = stores[name];
      if (!store) throw new TableError(`No location configured for the ${name} table of the ${domain.name} domain`);
      return store;
    };
    const tables = new Map<string, DeltaTable>();
    // Every table is looked at before anything is refused or evolved: one message names every
    // column to fix, and no table's schema is evolved while another table refuses the start.
    const mismatched: TableMismatches[] = [];
    const toEvolve: DomainTable<unknown, unknown>[] = [];
    const evolve = options.writer?.evolveSchema ?? false;
    for (const t of [...domain.tables, QUARANTINE_TABLE] as DomainTable<unknown, unknown>[]) {
      try {
        tables.set(t.name, await DeltaTable.openOrCreate(storeOf(t.name), t.spec, { ...writer(t.name), evolveSchema: false }));
      } catch (err) {
        if (!(err instanceof SchemaMismatchError)) throw err;
        mismatched.push(...err.tables.map((m) => ({ ...m, table: t.name })));
        if (evolve && err.mismatches.every((m) => m.missing)) toEvolve.push(t);
      }
    }
    if (mismatched.length > toEvolve.length) throw new SchemaMismatchError(mismatched);
    for (const t of toEvolve) tables.set(t.name, await DeltaTable.openOrCreate(storeOf(t.name), t.spec, writer(t.name)));
    for (const [name, table] of tables) {
      const adopted = table.adoption?.filter((c) => c.how !== undefined || c.from?.name !== c.field.name);
      if (adopted && adopted.length > 0) options.events?.tableAdopted?.(name, adopted.map((c) => `${c.field.name}: ${c.how ?? `from ${c.from!.name}`}`));
    }
    let prepared: DeltaTable | undefined;
    if (domain.prepare) {
      const store = storeOf(domain.prepare.table);
      try {
        prepared = await DeltaTable.open(store, writer(domain.prepare.table));
      } catch (err) {
        if (!(err instanceof TableError)) throw err;
        throw new TableError(domain.prepare.missingTable(store.url), { cause: err });
      }
      domain.prepare.checkTable?.(prepared);
      tables.set(domain.prepare.table, prepared);
    }
    return new DeltaSink(domain, tables, prepared, options);
  }

  /** A table by name (the domain's, the prepare step's, or `quarantine`). */
  table(name: string): DeltaTable | undefined {
    return this.#tables.get(name);
  }

  get tableNames(): string[] {
    return [...this.#tables.keys()];
  }

  async commit(batch: CommitBatch): Promise<void> {
    // A background compaction waits between its files while a batch is being built and committed.
    const done = this.#opts.compactor?.batchStarted();
    try {
      const shards = batch.shards.map((s) => this.#decode(s));
      // What decoding made, and what the previous batch left, is garbage now.
      collectBatchGarbage();
      const batchTime = BigInt(batch.wallMs) * 1000n;
      await retry(() => this.#attempt(shards, batchTime, batch), POLICIES.prepareConflict, {
        clock: this.#opts.clock,
        ...(this.#opts.random ? { random: this.#opts.random } : {}),
        retriable: isPrepareConflict,
        onRetry: (e) => this.#opts.events?.conflict?.(this.#domain.prepare?.table ?? "?", e.error as Error, e.attempt),
      });
    } finally {
      done?.();
    }
    // The batch's records, parsed values and columns are garbage now.
    collectBatchGarbage();
  }

  /**
   * A record's weight for the batcher: its payload plus {@link OBJECT_BYTES} per JSON object
   * in it (each `{`), the estimate of what decoding it and the rows it makes will take. A
   * count of braces, not a parse: cheap for the common record, and it sees the record that
   * decodes into hundreds of thousands of rows for what it is.
   */
  weigh(record: UserRecord): number {
    const data = record.data;
    let objects = 0;
    for (let i = data.indexOf(0x7b); i >= 0; i = data.indexOf(0x7b, i + 1)) objects++;
    return data.length + objects * OBJECT_BYTES;
  }

  #decode(shard: CommitShard): DecodedShard<V> {
    const values: V[] = [];
    const rejected: Rejected[] = [];
    for (const record of shard.records) {
      if (record.outsideShard) {
        rejected.push({ shardId: shard.shardId, record, reason: OUTSIDE_SHARD });
        continue;
      }
      noteDecoded(record.data.length);
      const d = this.#domain.decode(record);
      if (d.ok) values.push(d.value);
      else rejected.push({ shardId: shard.shardId, record, reason: d.reason });
    }
    return { ...shard, values, rejected };
  }

  async #attempt(given: DecodedShard<V>[], batchTime: bigint, batch: CommitBatch): Promise<void> {
    const fault = this.#opts.fault;
    let shards = given;
    // 1. The prepare step: decisions per shard, and its table's files.
    const decisions = new Map<string, D>();
    let prepared: PendingTable | undefined;
    const step = this.#domain.prepare;
    if (step && this.#prepared) {
      const table = this.#prepared;
      await table.refresh();
      shards = this.#notPassed(table, step.table, shards);
      const fresh = this.#missingFrom(table, step.table, shards);
      for (const s of shards) if (!fresh.includes(s)) decisions.set(s.shardId, await this.#decisionOf(table, s, step.table));
      const values = fresh.flatMap((s) => s.values);
      if (values.length > 0) {
        const change = await step.decide(values, table);
        for (const s of fresh) decisions.set(s.shardId, change.decision);
        const adds = change.rows.length > 0 ? await table.writeFiles(change.rows) : [];
        const removes = table.removesFor(change.replaced);
        // Committed even when it changes no row (as Spark's MERGE is): the rows of the other
        // tables follow this decision, so it must be recorded (intents and log), and the
        // txn must be in this table, or a later attempt (a replay, a worker cut off and
        // back) would decide again against stock that has moved, and take stock for
        // orders whose rows say none was taken.
        prepared = {
          name: step.table, table, adds, removes, txns: txnsOf(fresh), rows: change.rows.length,
          info: { operation: change.operation, operationParameters: change.operationParameters, operationMetrics: change.operationMetrics },
        };
      } else {
        // No value to decide for: the decision is the empty one on every attempt.
        for (const s of fresh) decisions.set(s.shardId, step.empty);
      }
    }
    // The decision goes into the shards' intents before the prepare commit: a replay finds
    // it there even after log cleanup removed that commit. The write runs while the files
    // are built.
    const recording = prepared ? recordSafely(batch, prepared.info!.operationParameters) : undefined;
    // 2. Every table's files, before any commit.
    const pending: PendingTable[] = [];
    try {
      for (const t of this.#allAppends()) {
        const p = await this.#build(t, shards, decisions, batchTime);
        if (p) pending.push(p);
      }
    } finally {
      await recording?.settled;
    }
    await fault?.("after-files");
    // 3. The prepare step's table: a conflict here starts the batch again (the caller's retry).
    if (prepared) {
      await recording!.done();
      // And in memory, for a commit whose response is lost.
      for (const t of prepared.txns) this.#remember(`${t.appId}@${t.version}`, decisions.get(shards.find((s) => s.appId === t.appId)!.shardId)!);
      const started = this.#opts.clock.monoMs();
      const committed = await prepared.table.commitFiles(prepared.adds, prepared.removes, { txns: prepared.txns, ...prepared.info! });
      this.#opts.events?.tableCommitted?.(prepared.name, prepared.rows, this.#opts.clock.monoMs() - started, committed.version);
      this.#opts.compactor?.noteCommit(prepared.name, prepared.table);
      await fault?.("after-prepare");
    }
    // 4. The appends, one table at a time.
    for (const [i, p] of pending.entries()) {
      await this.#commitAppend(p, shards, decisions, batchTime);
      if (i < pending.length - 1) await fault?.("between-tables");
    }
  }

  /** The domain's tables, then quarantine (its rows come from the refused records, not from `rows`). */
  #allAppends(): DomainTable<V, D>[] {
    return [...this.#appends, { ...QUARANTINE_TABLE, rows: () => [] }];
  }

  /**
   * The shards of the batch that `table` does not hold at a later batch. A table holds a
   * shard's batch `n+1` only once its batch `n` was committed to every table and the shard
   * advanced past it (the intent of `n+1` is written on the state of batch `n`): a shard
   * found there was taken over, its intent replayed and passed by its next owner while this
   * worker was away (paused, cut off). Nothing of it is written again, to any table, and no
   * decision is asked for it: a batch that gave the prepare table no rows leaves no commit
   * of its own there, so its decision is nowhere to be read, and none is needed.
   */
  #notPassed(table: DeltaTable, name: string, shards: DecodedShard<V>[]): DecodedShard<V>[] {
    const live = shards.filter((s) => table.snapshot.txnVersion(s.appId) <= s.batch);
    if (live.length < shards.length) this.#opts.events?.tableSkipped?.(name, shards.filter((s) => !live.includes(s)).map((s) => s.shardId));
    return live;
  }

  /** The shards of the batch that `table` does not hold yet; reports the others. */
  #missingFrom(table: DeltaTable, name: string, shards: DecodedShard<V>[]): DecodedShard<V>[] {
    const fresh = shards.filter((s) => table.snapshot.txnVersion(s.appId) < s.batch);
    if (fresh.length < shards.length) this.#opts.events?.tableSkipped?.(name, shards.filter((s) => !fresh.includes(s)).map((s) => s.shardId));
    return fresh;
  }

  /** Writes a table's files for the shards it does not hold; undefined when it has no rows. */
  async #build(t: DomainTable<V, D>, shards: DecodedShard<V>[], decisions: Map<string, D>, batchTime: bigint): Promise<PendingTable | undefined> {
    const table = this.#tables.get(t.name)!;
    await table.refresh();
    const fresh = this.#missingFrom(table, t.name, shards);
    if (fresh.length === 0) return undefined;
    const view = { stream: this.#opts.stream, batchTime, parts: fresh.map((s) => this.#part(s, decisions)) };
    const pending = { name: t.name, source: t as DomainTable<unknown, unknown>, table, removes: [], txns: txnsOf(fresh) };
    if (t.columns && t.name !== QUARANTINE_TABLE.name) {
      const built = t.columns(view);
      if (built.numRows === 0) return undefined;
      if (table.adoption === undefined) return { ...pending, adds: [await table.writeBatch(built)], rows: built.numRows };
      // A table written in its own schema (adopted): the rows go through its conversions.
      const rows = batchRows(built.batch);
      return { ...pending, adds: await table.writeFiles(rows), rows: rows.length };
    }
    const rows = t.name === QUARANTINE_TABLE.name
      ? quarantineRows(this.#opts.stream, batchTime, fresh.flatMap((s) => s.rejected))
      : t.rows?.(view) ?? [];
    if (rows.length === 0) return undefined;
    return { ...pending, adds: await table.writeFiles(rows), rows: rows.length };
  }

  #part(s: DecodedShard<V>, decisions: Map<string, D>): BatchPart<V, D> {
    // Every shard has a decision when the domain has a prepare step; without one, D is undefined.
    return { shardId: s.shardId, values: s.values, decision: decisions.get(s.shardId) as D };
  }

  /**
   * Commits an append. When another writer committed some of its shards first (their new
   * owner replaying them), those are dropped and the table's files written again without them.
   */
  async #commitAppend(first: PendingTable, shards: DecodedShard<V>[], decisions: Map<string, D>, batchTime: bigint): Promise<void> {
    let p: PendingTable | undefined = first;
    await retry(async () => {
      if (!p) return;
      const started = this.#opts.clock.monoMs();
      try {
        const committed = await p.table.commitFiles(p.adds, [], { txns: p.txns, operation: "WRITE", operationParameters: { mode: "Append", partitionBy: JSON.stringify(p.table.snapshot.partitionColumns) } });
        this.#opts.events?.tableCommitted?.(p.name, p.rows, this.#opts.clock.monoMs() - started, committed.version);
        this.#opts.compactor?.noteCommit(p.name, p.table);
      } catch (err) {
        if (!(err instanceof ConcurrentTransactionError)) throw err;
        p = await this.#build(p.source as DomainTable<V, D>, shards, decisions, batchTime);
        throw err;
      }
    }, POLICIES.tableTxnConflict, {
      clock: this.#opts.clock,
      retriable: (err) => err instanceof ConcurrentTransactionError,
      onRetry: (e) => this.#opts.events?.conflict?.(first.name, e.error as Error, e.attempt),
    });
  }

  /**
   * The decision the prepare step made for a shard's batch: as this sink recorded it, or
   * from the shard's intent, or from the commit in the table's log.
   */
  async #decisionOf(table: DeltaTable, s: CommitShard, name: string): Promise<D> {
    const key = `${s.appId}@${s.batch}`;
    const known = this.#readBack.get(key);
    if (known !== undefined) return known;
    if (s.prepared) return this.#domain.prepare!.readBack(s.prepared);
    const actions = await table.findTxnCommit(s.appId, s.batch);
    const info = actions?.find((a) => a.commitInfo)?.commitInfo;
    if (!actions || !info) {
      throw new TableError(
        `${name} holds batch ${s.batch} of ${s.appId} but neither the shard's intent nor the table's log ` +
          `(cleaned up after delta.logRetentionDuration) holds the decision that batch was written with`,
      );
    }
    const decision = this.#domain.prepare!.readBack((info.operationParameters ?? {}) as Record<string, string>);
    this.#remember(key, decision);
    return decision;
  }

  /** Keeps a decision for replays in this process (a bounded memo: the intent and the log stay the sources). */
  #remember(key: string, decision: D): void {
    if (this.#readBack.size > 1024) this.#readBack.clear();
    this.#readBack.set(key, decision);
  }
}

/**
 * Starts `batch.recordPrepared`, observed at once so that a failure is never unhandled:
 * `settled` waits for it either way, `done()` throws its failure.
 */
function recordSafely(batch: CommitBatch, parameters: Record<string, string>): { settled: Promise<unknown>; done(): Promise<void> } {
  const p = batch.recordPrepared?.(parameters) ?? Promise.resolve();
  const settled = p.then(() => undefined, (err: unknown) => err);
  return { settled, done: () => p };
}

function txnsOf(shards: readonly CommitShard[]): Txn[] {
  return shards.map((s) => ({ appId: s.appId, version: s.batch }));
}

/** A prepare commit that must be computed again: its files or one of its shards were taken by another commit. */
function isPrepareConflict(err: unknown): boolean {
  return err instanceof ConcurrentDeleteReadError || err instanceof ConcurrentTransactionError;
}
