/**
 * Auto-compaction in the daemon (`--auto-compact`): after a table commit, when one of the
 * table's partitions holds more than `minFiles` small files, that table is compacted in the
 * background (`optimize` with `auto: true`), one table at a time: never more than one
 * compaction in flight per process, others queued by name. The commit queue never waits for
 * it; what ingest feels is the CPU it takes (reading, converting and encoding share the event
 * loop, in steps of one file or one chunk of rows).
 *
 * Exactly-once is untouched: a compaction commits only `dataChange` false rewrites of rows
 * already in the table, with no `txn`; it is fenced like any writer by the log (a bin whose
 * files another commit removed is dropped; a MERGE meeting its removals computes again). A
 * crash or a stop mid-way leaves only new files no commit names, which vacuum deletes.
 * @module
 */
import { optimize, type OptimizeResult } from "../core/delta/optimize.ts";
import { DeltaTable } from "../core/delta/table.ts";
import type { Clock } from "../ports/clock.ts";

/** How the daemon compacts. */
export interface AutoCompactOptions {
  /** A partition is compacted once it holds more than this many small files. @default 50 */
  minFiles?: number;
  /** Small means below this; compacted files are about this size. @default 128 MiB */
  targetFileSize?: number;
  clock: Clock;
  events?: CompactionEvents;
}

/** What the compactor reports; telemetry logs and counts it. */
export interface CompactionEvents {
  /** A compaction ended: `compacted` (committed), `skipped` (nothing left to do, or every bin lost to a concurrent commit) or `failed`. */
  compactionDone?(table: string, result: "compacted" | "skipped" | "failed", ms: number, res: OptimizeResult | undefined, err?: unknown): void;
}

/**
 * Watches commits and compacts the tables that need it, one at a time, in the background.
 * `noteCommit` never waits; `close` stops the compaction in flight (its new files are left
 * for vacuum) and waits for it to end.
 */
export class AutoCompactor {
  readonly #opts: AutoCompactOptions;
  readonly #minFiles: number;
  readonly #target: number;
  /** Tables waiting, by name, with the table to compact. */
  readonly #queue = new Map<string, DeltaTable>();
  #running: Promise<void> | undefined;
  readonly #abort = new AbortController();

  constructor(options: AutoCompactOptions) {
    this.#opts = options;
    this.#minFiles = options.minFiles ?? 50;
    this.#target = options.targetFileSize ?? 128 * 1024 * 1024;
  }

  /** Whether a compaction is running now. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /**
   * After a commit to `table` (named `name`): queues it when a partition holds more than
   * `minFiles` small files, and starts the next compaction when none is running.
   */
  noteCommit(name: string, table: DeltaTable): void {
    if (this.#abort.signal.aborted || this.#queue.has(name)) return;
    if (!this.needsCompaction(table)) return;
    this.#queue.set(name, table);
    this.#next();
  }

  /** Whether a partition of the table's snapshot holds more than `minFiles` small files. */
  needsCompaction(table: DeltaTable): boolean {
    const counts = new Map<string, number>();
    const cols = table.snapshot.partitionColumns;
    for (const f of table.snapshot.files.values()) {
      if (f.size >= this.#target) continue;
      const key = cols.length === 0 ? "" : JSON.stringify(cols.map((c) => f.partitionValues[c] ?? null));
      const n = (counts.get(key) ?? 0) + 1;
      if (n > this.#minFiles) return true;
      counts.set(key, n);
    }
    return false;
  }

  /** Stops the compaction in flight and what is queued; resolves when it has ended. */
  async close(): Promise<void> {
    this.#abort.abort(new Error("the subscriber is stopping"));
    this.#queue.clear();
    await this.#running;
  }

  #next(): void {
    if (this.#running || this.#abort.signal.aborted) return;
    const first = this.#queue.entries().next();
    if (first.done) return;
    const [name, table] = first.value;
    this.#queue.delete(name);
    this.#running = this.#compact(name, table).finally(() => {
      this.#running = undefined;
      this.#next();
    });
  }

  async #compact(name: string, given: DeltaTable): Promise<void> {
    const clock = this.#opts.clock;
    const started = clock.monoMs();
    let res: OptimizeResult | undefined;
    try {
      // Its own snapshot: the sink's table object stays the sink's.
      const table = await DeltaTable.open(given.store, { now: () => clock.wallMs() });
      res = await optimize(table, {
        targetFileSize: this.#target,
        minFiles: this.#minFiles + 1,
        auto: true,
        now: () => clock.wallMs(),
        // Smaller steps than the command's: each one holds the event loop the commits share.
        chunkRows: 16_384,
        signal: this.#abort.signal,
      });
      this.#opts.events?.compactionDone?.(name, res.version !== null ? "compacted" : "skipped", clock.monoMs() - started, res);
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      this.#opts.events?.compactionDone?.(name, "failed", clock.monoMs() - started, res, err);
    }
  }
}
