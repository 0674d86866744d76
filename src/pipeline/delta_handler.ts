import type { Add, Txn } from "../core/delta/actions.ts";
import { ConcurrentDeleteReadError, ConcurrentTransactionError, TableError } from "../core/delta/errors.ts";
import { DeltaTable, type WriterOptions } from "../core/delta/table.ts";
import type { ObjectStore } from "../ports/object_store.ts";
import { noteGarbage } from "../util/collect_garbage.ts";
import { groupKey, type OrderLine, orderLines } from "./domain/order_lines.ts";
import { type PackageRow, reserveStock } from "./domain/reservation.ts";
import { decodeOrderEvent, type OrderEvent } from "./order_event.ts";
import { APPEND_PROCESSORS } from "./processors/all.ts";
import { PACKAGE_TABLE } from "./processors/package_table.ts";
import type { BatchContext, Rejected } from "./processors/processor.ts";
import type { BatchHandler, CommitBatch, FaultPoint } from "./subscriber.ts";

const OUTSIDE_SHARD =
  "KPL sub-record whose hash key lies outside this shard's range (aggregated before a reshard): " +
  "the KPL puts it again to the shard that owns it, where it is processed; kept here so it is not counted twice";

/** Where each table lives: one store per table, rooted at the table's folder. */
export type TableStores = Record<string, ObjectStore>;

export interface DeltaHandlerOptions {
  stream: string;
  writer?: WriterOptions;
  /** Attempts at the package_table MERGE when concurrent writers keep changing it. @default 20 */
  mergeAttempts?: number;
  fault?: (point: FaultPoint) => void;
  /** Called per table commit with the rows written (for metrics). */
  onTableCommit?: (table: string, rows: number, ms: number) => void;
}

/** What one batch wrote, per table. */
export interface BatchOutcome {
  rows: Record<string, number>;
  skipped: string[];
}

/**
 * Writes batches of order events to the Delta tables: decode and validate each record
 * (bad ones to quarantine), explode orders into item × package lines, MERGE the demand
 * into package_table (decrementing stock where it suffices), then append the events,
 * orders, orders_items and quarantine rows, every commit carrying the batch's txns.
 *
 * A table that already holds the batch's txns is skipped, so a replayed batch lands once.
 * A replay also reuses the reservation the first MERGE recorded in its commitInfo, so the
 * statuses written on replay agree with the stock that was actually taken.
 */
export class DeltaHandler implements BatchHandler {
  readonly #tables: Map<string, DeltaTable>;
  readonly #packages: DeltaTable;
  readonly #opts: DeltaHandlerOptions;
  /** package_table rows per data file path, so a batch reads only files it has not seen. */
  readonly #packageRows = new Map<string, PackageRow[]>();
  lastOutcome: BatchOutcome = { rows: {}, skipped: [] };

  private constructor(tables: Map<string, DeltaTable>, packages: DeltaTable, options: DeltaHandlerOptions) {
    this.#tables = tables;
    this.#packages = packages;
    this.#opts = options;
  }

  /**
   * Opens the tables, creating the append tables that are missing.
   * @throws {TableError} when package_table does not exist (it holds the stock: load it first).
   */
  static async open(stores: TableStores, options: DeltaHandlerOptions): Promise<DeltaHandler> {
    const tables = new Map<string, DeltaTable>();
    for (const p of APPEND_PROCESSORS) {
      const store = stores[p.name];
      if (!store) throw new TableError(`No location configured for the ${p.name} table`);
      tables.set(p.name, await DeltaTable.openOrCreate(store, p.spec, options.writer));
    }
    const pkgStore = stores[PACKAGE_TABLE.name];
    if (!pkgStore) throw new TableError(`No location configured for the ${PACKAGE_TABLE.name} table`);
    let packages: DeltaTable;
    try {
      packages = await DeltaTable.open(pkgStore, options.writer);
    } catch (err) {
      if (!(err instanceof TableError)) throw err;
      throw new TableError(
        `package_table does not exist at ${pkgStore.url}: it holds the stock the orders take, so it must be ` +
          `loaded first (data-subscriber tables init-packages --from packages.json)`,
        { cause: err },
      );
    }
    return new DeltaHandler(tables, packages, options);
  }

  table(name: string): DeltaTable | undefined {
    return name === PACKAGE_TABLE.name ? this.#packages : this.#tables.get(name);
  }

  async commit(batch: CommitBatch): Promise<void> {
    const txns: Txn[] = batch.shards.map((s) => ({ appId: s.appId, version: s.batch }));
    const events: OrderEvent[] = [];
    const rejected: Rejected[] = [];
    for (const s of batch.shards) {
      for (const r of s.records) {
        if (r.outsideShard) {
          rejected.push({ shardId: s.shardId, record: r, reason: OUTSIDE_SHARD });
          continue;
        }
        const d = decodeOrderEvent(r.data);
        if (d.ok) events.push(d.event);
        else rejected.push({ shardId: s.shardId, record: r, reason: d.reason });
      }
    }
    const lines = events.flatMap(orderLines);
    const outcome: BatchOutcome = { rows: {}, skipped: [] };
    const reserved = await this.#merge(lines, txns, outcome);
    const reservedOrders = ordersFullyReserved(lines, reserved);
    const ctx: BatchContext = {
      stream: this.#opts.stream,
      batchTime: BigInt(batch.wallMs) * 1000n,
      events,
      lines,
      reserved,
      reservedOrders,
      rejected,
    };
    // Write every table's files first, then commit the tables one by one.
    const pending: { name: string; table: DeltaTable; adds: Add[]; rows: number }[] = [];
    for (const p of APPEND_PROCESSORS) {
      const table = this.#tables.get(p.name)!;
      await table.refresh();
      if (table.isApplied(txns)) {
        outcome.skipped.push(p.name);
        continue;
      }
      const rows = p.rows(ctx);
      if (rows.length === 0) continue;
      pending.push({ name: p.name, table, adds: await table.writeFiles(rows), rows: rows.length });
    }
    this.#opts.fault?.("after-files");
    for (const [i, p] of pending.entries()) {
      const started = performance.now();
      try {
        await p.table.commitFiles(p.adds, [], {
          operation: "WRITE",
          operationParameters: { mode: "Append", partitionBy: "[]" },
          txns,
        });
        outcome.rows[p.name] = p.rows;
        this.#opts.onTableCommit?.(p.name, p.rows, performance.now() - started);
      } catch (err) {
        // Another worker (a replay, or a zombie fenced since) committed this batch first.
        if (!(err instanceof ConcurrentTransactionError)) throw err;
        await p.table.refresh();
        if (!p.table.isApplied(txns)) throw err;
        outcome.skipped.push(p.name);
      }
      if (i < pending.length - 1) this.#opts.fault?.("between-tables");
    }
    this.lastOutcome = outcome;
    // The batch's records, parsed events and rows are garbage now: several times its bytes.
    noteGarbage(4 * batch.shards.reduce((n, s) => n + s.records.reduce((m, r) => m + r.data.length, 0), 0));
  }

  /** The package_table MERGE of this batch; @returns the groups it reserved. */
  async #merge(lines: OrderLine[], txns: Txn[], outcome: BatchOutcome): Promise<Set<string>> {
    const table = this.#packages;
    const attempts = this.#opts.mergeAttempts ?? 20;
    for (let attempt = 1; ; attempt++) {
      await table.refresh();
      if (table.isApplied(txns)) {
        outcome.skipped.push(PACKAGE_TABLE.name);
        return await this.#recordedReservation(txns[0]!);
      }
      if (lines.length === 0) return new Set();
      const files = [...table.snapshot.files.values()];
      const byFile = await Promise.all(files.map(async (f) => ({ file: f, rows: await this.#rowsOf(f) })));
      const res = reserveStock(byFile.flatMap((f) => f.rows), lines);
      // Rewrite only the files holding a changed row.
      let k = 0;
      const replaced: Add[] = [];
      const newRows: PackageRow[] = [];
      for (const f of byFile) {
        const after = res.rows.slice(k, k + f.rows.length);
        k += f.rows.length;
        if (after.some((r, i) => r !== f.rows[i])) {
          replaced.push(f.file);
          newRows.push(...after);
        }
      }
      const started = performance.now();
      try {
        const written = await table.rewrite(replaced, newRows, {
          txns,
          operation: "MERGE",
          operationParameters: {
            predicate: "target.package_id = source.package_id AND target.subpackage_id = source.subpackage_id",
            matchedPredicates: JSON.stringify([{ actionType: "update", predicate: "target.stock_quantity >= source.items_quantity" }]),
            notMatchedPredicates: "[]",
            reserved: JSON.stringify([...res.reserved]),
          },
          operationMetrics: {
            numSourceRows: String(lines.length),
            numTargetRowsUpdated: String(res.changed),
            numTargetRowsCopied: String(newRows.length - res.changed),
            numTargetFilesRemoved: String(replaced.length),
            numTargetFilesAdded: String(newRows.length > 0 ? 1 : 0),
            numStockUnitsTaken: String(res.units),
          },
        });
        for (const add of written.adds) this.#packageRows.set(add.path, newRows as PackageRow[]);
        for (const f of replaced) this.#packageRows.delete(f.path);
        outcome.rows[PACKAGE_TABLE.name] = res.changed;
        this.#opts.onTableCommit?.(PACKAGE_TABLE.name, res.changed, performance.now() - started);
        return res.reserved;
      } catch (err) {
        const retry = err instanceof ConcurrentDeleteReadError || err instanceof ConcurrentTransactionError;
        if (!retry || attempt >= attempts) throw err;
      }
    }
  }

  async #rowsOf(file: Add): Promise<PackageRow[]> {
    let rows = this.#packageRows.get(file.path);
    if (!rows) {
      rows = (await this.#packages.readRows([file])) as PackageRow[];
      this.#packageRows.set(file.path, rows);
    }
    return rows;
  }

  /** The groups the MERGE that carried `txn` reserved, from its commitInfo. */
  async #recordedReservation(txn: Txn): Promise<Set<string>> {
    const actions = await this.#packages.findTxnCommit(txn.appId, txn.version);
    const params = actions?.find((a) => a.commitInfo)?.commitInfo?.operationParameters as Record<string, string> | undefined;
    if (!params?.reserved) {
      throw new TableError(
        `package_table holds batch ${txn.version} of ${txn.appId} but its commit records no reservation; ` +
          `cannot give the replayed order items the statuses they were given`,
      );
    }
    return new Set(JSON.parse(params.reserved) as string[]);
  }
}

/** Orders with at least one line, all of whose lines' groups were reserved. */
export function ordersFullyReserved(lines: readonly OrderLine[], reserved: ReadonlySet<string>): Set<string> {
  const state = new Map<string, boolean>();
  for (const l of lines) {
    const key = groupKey(l.package_id, l.subpackage_id);
    const ok = key !== undefined && reserved.has(key);
    state.set(l.order_id, (state.get(l.order_id) ?? true) && ok);
  }
  return new Set([...state].filter(([, ok]) => ok).map(([id]) => id));
}
