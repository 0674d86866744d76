/**
 * Auto-compaction in the daemon (`--auto-compact`): after a table commit, when one of the
 * table's partitions holds a size tier of `minFiles` small files ({@link planTieredCompaction}),
 * that table gets a compaction in the background: one bin of at most `maxBytes`, one
 * compaction at a time per process, the others waiting by table name. The commit queue never
 * waits for it (`noteCommit` only looks at the snapshot the commit left); what ingest feels is
 * the CPU it takes (it waits between files while a batch is in progress) and the memory of one bin (its new file is built in memory before it is
 * written), which is why a compaction is bounded in bytes and not left to grow with the
 * table. After each compaction the process is asked to give back what it freed.
 *
 * The tiers make repeated compactions converge: a compaction's output lands in a higher tier
 * than its inputs, so a row is rewritten once per tier (about four times from an ingest file
 * to a file of `maxBytes / 2`), never once per compaction; files of `maxBytes / 2` or more
 * are left for `tables optimize`.
 *
 * Exactly-once is untouched: a compaction commits only `dataChange` false rewrites of rows
 * already in the table, with no `txn`; it is fenced like any writer by the log (a bin whose
 * files another commit removed is dropped; a MERGE meeting its removals computes again). A
 * crash or a stop mid-way leaves only new files no commit names, which vacuum deletes.
 * @module
 */
import { optimize, type OptimizeResult, planTieredCompaction } from "../core/delta/optimize.ts";
import { DeltaTable } from "../core/delta/table.ts";
import type { Clock } from "../ports/clock.ts";
import { collectGarbage } from "../util/collect_garbage.ts";

/** How the daemon compacts. */
export interface AutoCompactOptions {
  /** A size tier of one partition is compacted once it holds this many files. @default 10 */
  minFiles?: number;
  /** Bytes one compaction reads at most; files of half this size or more are left alone. @default 64 MiB */
  maxBytes?: number;
  clock: Clock;
  events?: CompactionEvents;
}

/** What the compactor reports; telemetry logs and counts it. */
export interface CompactionEvents {
  /** A compaction ended: `compacted` (committed), `skipped` (nothing left to do, or its bin lost to a concurrent commit) or `failed`. */
  compactionDone?(table: string, result: "compacted" | "skipped" | "failed", ms: number, res: OptimizeResult | undefined, err?: unknown): void;
}

/**
 * Watches commits and compacts the tables that need it, one bin at a time, in the background.
 * `noteCommit` never waits; `close` stops the compaction in flight (its new file is left for
 * vacuum) and waits for it to end.
 */
export class AutoCompactor {
  readonly #opts: AutoCompactOptions;
  readonly #minFiles: number;
  readonly #maxBytes: number;
  /** Tables waiting, by name, with the table to compact. */
  readonly #queue = new Map<string, DeltaTable>();
  #running: Promise<void> | undefined;
  readonly #abort = new AbortController();
  /** Batches in progress, and the compaction waiting for them to end. */
  #batches = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: AutoCompactOptions) {
    this.#opts = options;
    this.#minFiles = options.minFiles ?? 10;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Whether a compaction is running now. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /**
   * After a commit to `table` (named `name`): queues it when a partition has a tier ready to
   * compact, and starts the next compaction when none is running.
   */
  noteCommit(name: string, table: DeltaTable): void {
    if (this.#abort.signal.aborted || this.#queue.has(name)) return;
    if (!this.needsCompaction(table)) return;
    this.#queue.set(name, table);
    this.#next();
  }

  /** Whether the table's snapshot has a bin to compact ({@link planTieredCompaction}). */
  needsCompaction(table: DeltaTable): boolean {
    return this.#plan(table.snapshot.files.values(), table.snapshot.partitionColumns).length > 0;
  }

  /**
   * A batch is being built and committed: until the function returned is called, the
   * compaction in flight waits before its next file, so that the batch has the CPU to itself
   * (a compaction advances between batches; with batches back to back it waits for a gap).
   */
  batchStarted(): () => void {
    this.#batches++;
    let called = false;
    return () => {
      if (called) return;
      called = true;
      if (--this.#batches === 0) for (const wake of this.#waiting.splice(0)) wake();
    };
  }

  /** Resolves when no batch is in progress, or the compactor is closing. */
  #batchGap(): Promise<void> {
    if (this.#batches === 0 || this.#abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Resolves once no compaction runs and none waits (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops the compaction in flight and what is queued; resolves when it has ended. */
  async close(): Promise<void> {
    this.#abort.abort(new Error("the subscriber is stopping"));
    this.#queue.clear();
    for (const wake of this.#waiting.splice(0)) wake();
    await this.#running;
  }

  #plan(files: Parameters<typeof planTieredCompaction>[0], partitionColumns: readonly string[]) {
    return planTieredCompaction(files, partitionColumns, { minFiles: this.#minFiles, maxBytes: this.#maxBytes });
  }

  #next(): void {
    if (this.#running || this.#abort.signal.aborted) return;
    const first = this.#queue.entries().next();
    if (first.done) return;
    const [name, table] = first.value;
    this.#queue.delete(name);
    this.#running = this.#compact(name, table).then((after) => {
      this.#running = undefined;
      // The bin's buffers (its files, the new file) are garbage now: give them back before
      // the next one, and before ingest needs the memory.
      collectGarbage();
      // The table may have more to compact (another tier, or commits meanwhile): judged on
      // the snapshot the compaction committed on, which the sink's may not have reached yet.
      if (after && !this.#abort.signal.aborted && !this.#queue.has(name) && this.needsCompaction(after)) this.#queue.set(name, table);
      this.#next();
    });
  }

  /** @returns the table as the compaction left it, when it committed. */
  async #compact(name: string, given: DeltaTable): Promise<DeltaTable | undefined> {
    const clock = this.#opts.clock;
    const started = clock.monoMs();
    let res: OptimizeResult | undefined;
    try {
      // Its own snapshot: the sink's table object stays the sink's.
      const table = await DeltaTable.open(given.store, { now: () => clock.wallMs() });
      res = await optimize(table, {
        plan: (files, cols) => this.#plan(files, cols),
        auto: true,
        now: () => clock.wallMs(),
        // Smaller steps than the command's where rows go through JavaScript: each one holds
        // the event loop the commits share.
        chunkRows: 16_384,
        signal: this.#abort.signal,
        beforeFile: () => this.#batchGap(),
      });
      this.#opts.events?.compactionDone?.(name, res.version !== null ? "compacted" : "skipped", clock.monoMs() - started, res);
      return res.version !== null ? table : undefined;
    } catch (err) {
      if (!this.#abort.signal.aborted) this.#opts.events?.compactionDone?.(name, "failed", clock.monoMs() - started, res, err);
      return undefined;
    }
  }
}
