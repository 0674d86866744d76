import type { Clock } from "../ports/clock.ts";
import { FatalSourceError, type HashKeyRange, type IteratorPosition, type RecordSource, type SourceError } from "../ports/record_source.ts";
import type { CheckpointStore } from "../core/checkpoint/checkpoint_store.ts";
import type { Intent, ShardState } from "../core/checkpoint/shard_state.ts";
import { comparePositions, type Position } from "../core/kinesis/position.ts";
import type { UserRecord } from "../core/kinesis/records.ts";
import { LeaseLostError, LeaseManager, type LeaseOptions } from "../core/lease/lease_manager.ts";
import { ShardReader, type ShardReaderOptions } from "../core/source/shard_reader.ts";
import { type Batch, type BatcherOptions, MicroBatcher } from "./micro_batcher.ts";

/** One shard's part of a batch handed to the tables. */
export interface CommitShard {
  shardId: string;
  /** The `txn.appId` of this shard in every table commit: `<app>/<stream>/<shardId>`. */
  appId: string;
  /** The `txn.version`: the shard's batch number. A table already at it holds these records. */
  batch: number;
  records: UserRecord[];
}

export interface CommitBatch {
  shards: CommitShard[];
  /** A replay of an intent found on taking a shard (a crash, or a lost lease, mid-batch). */
  replay: boolean;
  /** Wall-clock time of the batch, ms. */
  wallMs: number;
}

/**
 * Writes a batch to the tables. Must be idempotent per shard txn: a table whose txn for
 * a shard's appId is already at `batch` is left alone, so a replayed batch lands once.
 */
export interface BatchHandler {
  commit(batch: CommitBatch): Promise<void>;
}

/** Small typed events the subscriber reports; telemetry logs and counts them. */
export interface SubscriberEvents {
  leaseAcquired?(shardId: string, state: ShardState): void;
  leaseLost?(shardId: string): void;
  batchCommitted?(info: { records: number; bytes: number; shards: number; ms: number; trigger: Batch["trigger"] | "replay" }): void;
  lag?(shardId: string, millisBehindLatest: number): void;
  shardFinished?(shardId: string): void;
  readRetry?(shardId: string, err: SourceError): void;
  commitRetry?(err: unknown, attempt: number): void;
  replayMismatch?(shardId: string, expected: number, found: number): void;
  leaseRoundFailed?(err: unknown): void;
}

/** Where a test may stop the process to prove a crash there loses nothing. */
export type FaultPoint = "after-files" | "between-tables" | "after-commits" | "during-checkpoint";

export interface SubscriberOptions {
  /** Application name: part of the txn appIds and of the checkpoint objects' place. @default "data-subscriber" */
  appName?: string;
  /** Where a shard with no checkpoint starts. @default TRIM_HORIZON */
  initialPosition?: IteratorPosition;
  batch?: BatcherOptions;
  reader?: ShardReaderOptions;
  lease: LeaseOptions;
  /** Attempts at committing a batch before the run fails. @default 5 */
  commitAttempts?: number;
  /** Test hook, called at each fault point. */
  fault?: (point: FaultPoint) => void;
}

export interface RunOptions {
  /** Read every shard up to its tip as of now, commit, and return (a scheduled job). */
  once?: boolean;
}

/**
 * The run loop: leases decide which shards this worker reads; shard readers feed the
 * micro-batcher; each batch is committed exactly once:
 *
 * 1. for each shard in the batch, its intent (batch number and exact range) is written to
 *    its state object (compare-and-swap: fails if the lease was lost);
 * 2. the handler commits the records to every table, each commit carrying `txn(appId,
 *    batch)` per shard;
 * 3. each shard's state moves to the batch's end and the intent is cleared.
 *
 * A worker that takes a shard with an intent first replays exactly that range, so a crash
 * at any point between 1 and 3 neither loses nor duplicates a record.
 */
export class Subscriber {
  readonly #source: RecordSource;
  readonly #clock: Clock;
  readonly #handler: BatchHandler;
  readonly #events: SubscriberEvents;
  readonly #app: string;
  readonly #initial: IteratorPosition;
  readonly #opts: SubscriberOptions;
  readonly #leases: LeaseManager;
  readonly #batcher: MicroBatcher;
  readonly #tasks = new Map<string, { abort: AbortController; done: Promise<void> }>();
  #lane: Promise<unknown> = Promise.resolve();
  #acquired = 0;
  #failure: unknown;
  #stop = new AbortController();
  #once = false;
  #flushWaiters: (() => void)[] = [];

  constructor(source: RecordSource, states: CheckpointStore, clock: Clock, handler: BatchHandler, options: SubscriberOptions, events: SubscriberEvents = {}) {
    this.#source = source;
    this.#clock = clock;
    this.#handler = handler;
    this.#events = events;
    this.#opts = options;
    this.#app = options.appName ?? "data-subscriber";
    this.#initial = options.initialPosition ?? { type: "TRIM_HORIZON" };
    this.#batcher = new MicroBatcher(clock, options.batch);
    this.#leases = new LeaseManager(source, states, clock, {
      acquired: (shardId, state) => this.#startShard(shardId, state),
      lost: (shardId) => this.#loseShard(shardId),
    }, options.lease);
  }

  get leases(): LeaseManager {
    return this.#leases;
  }

  get batcher(): MicroBatcher {
    return this.#batcher;
  }

  appId(shardId: string): string {
    return `${this.#app}/${this.#source.streamName}/${shardId}`;
  }

  /**
   * Runs until `signal` aborts (then stops reading, commits what is buffered, checkpoints
   * and releases its leases) or, with `once`, until every shard is read to its tip.
   * @throws the first fatal error: a source error that retrying cannot fix, or a batch
   *   that failed to commit `commitAttempts` times (its intent stays for the next run).
   */
  async run(signal: AbortSignal, options: RunOptions = {}): Promise<void> {
    const stop = this.#stop;
    this.#once = options.once ?? false;
    const onAbort = () => stop.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) stop.abort(signal.reason);
    const batches = this.#batchLoop(stop.signal);
    try {
      let idleRounds = 0;
      while (!stop.signal.aborted) {
        this.#acquired = 0;
        try {
          await this.#leases.tick();
        } catch (err) {
          // A stream that is gone or access refused ends the run; S3 or network trouble
          // is retried next round (held leases may expire meanwhile: CAS fences us then).
          if (err instanceof FatalSourceError) throw err;
          this.#events.leaseRoundFailed?.(err);
          await this.#clock.sleep(this.#leases.renewIntervalMs, stop.signal).catch(() => {});
          continue;
        }
        if (this.#once) {
          if (this.#tasks.size === 0 && this.#acquired === 0 && !this.#leases.undecided()) {
            // Every reader reached its tip: commit what is left, which may finish shards
            // and so make their children eligible; stop after a round with nothing new.
            await this.#flush();
            if (++idleRounds >= 2) break;
            continue;
          }
          idleRounds = 0;
        }
        const tasksDone = Promise.allSettled([...this.#tasks.values()].map((t) => t.done));
        await Promise.race([this.#clock.sleep(this.#leases.renewIntervalMs, stop.signal).catch(() => {}), ...(this.#once ? [tasksDone] : [])]);
      }
    } catch (err) {
      this.#failure ??= err;
    } finally {
      signal.removeEventListener("abort", onAbort);
      await this.#shutdown(batches);
    }
    if (this.#failure) throw this.#failure;
  }

  /** Stops the readers, commits everything they delivered, and releases the leases. */
  async #shutdown(batches: Promise<void>): Promise<void> {
    this.#stop.abort();
    for (const t of this.#tasks.values()) t.abort.abort();
    await batches;
    // The batch loop has ended: drain here. A reader blocked on a full buffer is released
    // by the drain and then sees its abort.
    const settled = Promise.allSettled([...this.#tasks.values()].map((t) => t.done));
    let readersDone = false;
    void settled.then(() => (readersDone = true));
    while (!this.#failure) {
      this.#batcher.flush();
      const batch = await this.#batcher.next(new AbortController().signal);
      try {
        if (batch && (batch.records > 0 || batch.slices.length > 0)) await this.#inLane(() => this.#commitBatch(batch));
      } catch (err) {
        this.#failure ??= err;
      }
      if (readersDone && this.#batcher.bufferedRecords === 0) break;
      await Promise.race([settled, this.#clock.sleep(20)]);
    }
    // After a failure nothing more is committed: free blocked readers so they can stop.
    this.#batcher.close();
    await settled;
    await this.#leases.releaseAll().catch((err) => (this.#failure ??= err));
  }

  /** Asks the batch loop to commit what is buffered now, and waits until it has. */
  #flush(): Promise<void> {
    const done = new Promise<void>((resolve) => this.#flushWaiters.push(resolve));
    this.#batcher.flush();
    return done;
  }

  async #batchLoop(signal: AbortSignal): Promise<void> {
    for (;;) {
      const batch = await this.#batcher.next(signal);
      if (!batch) break;
      try {
        await this.#inLane(() => this.#commitBatch(batch));
      } catch (err) {
        this.#fail(err);
        break;
      }
      if (batch.flushed) for (const w of this.#flushWaiters.splice(0)) w();
    }
    for (const w of this.#flushWaiters.splice(0)) w();
  }

  #fail(err: unknown): void {
    this.#failure ??= err;
    this.#stop.abort(err);
  }

  /** Runs commits one at a time: batches and replays never interleave. */
  #inLane<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#lane.catch(() => {}).then(fn);
    this.#lane = next;
    return next;
  }

  #startShard(shardId: string, state: ShardState): void {
    this.#acquired++;
    this.#events.leaseAcquired?.(shardId, state);
    const abort = new AbortController();
    const stopShard = () => abort.abort();
    this.#stop.signal.addEventListener("abort", stopShard, { once: true });
    const done = this.#readShard(shardId, state, abort.signal)
      .catch((err) => {
        if (!(err instanceof LeaseLostError) && !abort.signal.aborted) this.#fail(err);
      })
      .finally(() => {
        this.#stop.signal.removeEventListener("abort", stopShard);
        if (this.#tasks.get(shardId)?.abort === abort) this.#tasks.delete(shardId);
      });
    this.#tasks.set(shardId, { abort, done });
  }

  #loseShard(shardId: string): void {
    this.#events.leaseLost?.(shardId);
    this.#tasks.get(shardId)?.abort.abort();
    this.#batcher.drop(shardId);
  }

  async #readShard(shardId: string, state: ShardState, signal: AbortSignal): Promise<void> {
    const reader = new ShardReader(this.#source, shardId, this.#clock, {
      // Responses of a quarter batch: all shards together then fill about a batch, rather
      // than each bringing a batch's worth at once (a memory spike of shards × batch). At
      // Kinesis's 2 MiB/s per shard this costs nothing: 5 calls/s still read more than that.
      maxRecordsPerCall: Math.max(100, Math.min(10_000, Math.ceil((this.#opts.batch?.maxRecords ?? 10_000) / 4))),
      ...this.#opts.reader,
      onRetry: (id, err) => this.#events.readRetry?.(id, err),
    });
    const hashKeyRange = this.#leases.shards.find((s) => s.shardId === shardId)?.hashKeyRange;
    let position = state.position;
    if (state.intent) {
      const replayed = await this.#replay(reader, shardId, state.intent, signal, hashKeyRange);
      if (!replayed || state.intent.ends) return;
      position = state.intent.last ?? position;
    }
    if (state.finished) return;
    await reader.read(
      { after: position, initial: this.#initial, stopAtTip: this.#once, ...(hashKeyRange ? { hashKeyRange } : {}) },
      async (chunk) => {
        // A lease lost while this response was on its way: its records must not reach a
        // batch (the shard's buffer was dropped; a new owner reads them from the checkpoint).
        if (signal.aborted) return;
        this.#events.lag?.(shardId, chunk.millisBehindLatest);
        await this.#batcher.push(chunk);
      },
      signal,
    );
  }

  /** Re-reads an intent's exact range and commits it as its own batch. @returns false when stopped first. */
  async #replay(reader: ShardReader, shardId: string, intent: Intent, signal: AbortSignal, hashKeyRange?: HashKeyRange): Promise<boolean> {
    const records: UserRecord[] = [];
    let bytes = 0;
    if (intent.first && intent.last) {
      const before: Position = { sequenceNumber: intent.first.sequenceNumber, subSequenceNumber: intent.first.subSequenceNumber - 1 };
      const outcome = await reader.read({ after: before, initial: { type: "TRIM_HORIZON" }, until: intent.last, ...(hashKeyRange ? { hashKeyRange } : {}) }, (chunk) => {
        for (const r of chunk.records) records.push(r);
        bytes += chunk.bytes;
        return Promise.resolve();
      }, signal);
      if (outcome === "aborted") return false;
      if (records.length !== intent.records) this.#events.replayMismatch?.(shardId, intent.records, records.length);
    }
    const started = this.#clock.monoMs();
    await this.#inLane(async () => {
      if (records.length > 0) await this.#commitWithRetry({ shards: [{ shardId, appId: this.appId(shardId), batch: intent.batch, records }], replay: true, wallMs: intent.at });
      await this.#checkpoint(shardId, intent);
    });
    this.#events.batchCommitted?.({ records: records.length, bytes, shards: 1, ms: this.#clock.monoMs() - started, trigger: "replay" });
    return true;
  }

  async #commitBatch(batch: Batch): Promise<void> {
    const started = this.#clock.monoMs();
    const at = this.#clock.wallMs();
    const parts: { shardId: string; intent: Intent; records: UserRecord[] }[] = [];
    await Promise.all(batch.slices.map(async (given) => {
      let slice = given;
      const state = this.#leases.stateOf(slice.shardId);
      if (!state) return;
      // Never commit a record at or before the shard's checkpoint (a late response of a
      // reader from before a lease was lost and taken again).
      if (state.position) {
        const pos = state.position;
        const fresh = slice.records.filter((r) => comparePositions(r, pos) > 0);
        if (fresh.length !== slice.records.length) slice = { ...slice, records: fresh };
      }
      if (slice.records.length === 0 && !slice.ended) return;
      const first = slice.records[0];
      const last = slice.records.at(-1);
      const intent: Intent = {
        batch: slice.records.length > 0 ? state.batch + 1 : state.batch,
        first: first ? { sequenceNumber: first.sequenceNumber, subSequenceNumber: first.subSequenceNumber } : null,
        last: last ? { sequenceNumber: last.sequenceNumber, subSequenceNumber: last.subSequenceNumber } : null,
        ends: slice.ended,
        records: slice.records.length,
        at,
      };
      try {
        if (slice.records.length > 0) await this.#leases.update(slice.shardId, (s) => ({ ...s, intent }));
        parts.push({ shardId: slice.shardId, intent, records: slice.records });
      } catch (err) {
        if (!(err instanceof LeaseLostError)) throw err;
      }
    }));
    const withRecords = parts.filter((p) => p.records.length > 0);
    if (withRecords.length > 0) {
      await this.#commitWithRetry({
        shards: withRecords.map((p) => ({ shardId: p.shardId, appId: this.appId(p.shardId), batch: p.intent.batch, records: p.records })),
        replay: false,
        wallMs: at,
      });
      this.#opts.fault?.("after-commits");
    }
    for (const p of parts) {
      await this.#checkpoint(p.shardId, p.intent);
      if (p !== parts.at(-1)) this.#opts.fault?.("during-checkpoint");
    }
    if (batch.records > 0 || parts.length > 0) {
      this.#events.batchCommitted?.({ records: batch.records, bytes: batch.bytes, shards: parts.length, ms: this.#clock.monoMs() - started, trigger: batch.trigger });
    }
  }

  async #commitWithRetry(batch: CommitBatch): Promise<void> {
    const attempts = this.#opts.commitAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#handler.commit(batch);
      } catch (err) {
        if (attempt >= attempts) throw err;
        this.#events.commitRetry?.(err, attempt);
        await this.#clock.sleep(Math.min(30_000, 500 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }

  /** Moves a shard's state past a committed intent (the table commits are done). */
  async #checkpoint(shardId: string, intent: Intent): Promise<void> {
    try {
      await this.#leases.update(shardId, (s) => ({
        ...s,
        batch: intent.batch,
        position: intent.last ?? s.position,
        intent: null,
        finished: s.finished || intent.ends,
      }));
    } catch (err) {
      // The new owner replays the intent; the tables' txns make that a no-op.
      if (err instanceof LeaseLostError) return;
      throw err;
    }
    if (intent.ends) {
      this.#leases.forget(shardId);
      this.#leases.requestShardSync();
      this.#events.shardFinished?.(shardId);
    }
  }
}
