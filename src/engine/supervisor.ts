import type { Clock } from "../ports/clock.ts";
import { FatalSourceError, type HashKeyRange, type IteratorPosition, type RecordSource, type SourceError, TrimmedError } from "../ports/record_source.ts";
import type { ShardStateStore } from "../core/shard_state/shard_state_store.ts";
import type { Intent, RestartPosition, ShardState, Stopped } from "../core/shard_state/shard_state.ts";
import type { Position } from "../core/kinesis/position.ts";
import type { UserRecord } from "../core/kinesis/records.ts";
import { DuplicateWorkerError, LeaseLostError, LeaseManager, type LeaseOptions } from "../core/lease/lease_manager.ts";
import { ShardReader, type ShardReaderOptions } from "../core/source/shard_reader.ts";
import type { RetryPolicy } from "../core/retry/retry.ts";
import { dependencyOf, failureKind, OutageError } from "../core/retry/failure_kind.ts";
import type { BatchSink } from "./batch_sink.ts";
import { ExactlyOnce, type ExactlyOnceEvents } from "./exactly_once.ts";
import type { FaultHook } from "./fault_point.ts";
import { type Batch, type BatcherOptions, MicroBatcher } from "./micro_batcher.ts";

/** Small typed events the supervisor and the protocol report; telemetry logs and counts them. */
export interface SupervisorEvents extends ExactlyOnceEvents {
  leaseAcquired?(shardId: string, state: ShardState): void;
  leaseLost?(shardId: string): void;
  lag?(shardId: string, millisBehindLatest: number): void;
  /** A GetRecords response of a shard reached the batcher (records after de-aggregation). */
  recordsRead?(shardId: string, read: { records: number; bytes: number; millisBehindLatest: number }): void;
  readRetry?(shardId: string, err: SourceError): void;
  leaseRoundFailed?(err: unknown): void;
  /** A lease round ended (renewals, takes and the shard list done, or failed): the run loop is alive. */
  leaseRound?(ok: boolean): void;
  /** The batch loop took a batch to commit (why it was cut, and whether a flush asked for it). */
  commitStarted?(batch?: { trigger: Batch["trigger"]; flushed: boolean; records: number }): void;
  /** This worker stopped a shard: the stream no longer has what it must be read from. */
  shardStopped?(event: ShardStoppedEvent): void;
  /** After each lease round: every shard found stopped, whoever stopped it. */
  stoppedShards?(shardIds: string[]): void;
}

/** A shard stopped at a gap in the stream: which, why, and the range that may be lost. */
export interface ShardStoppedEvent {
  stream: string;
  shardId: string;
  stopped: Stopped;
  /** The intent that could not be replayed in full, when that is how the gap was found (it stays in the state). */
  intent: Intent | null;
}

export interface SupervisorOptions {
  /** Application name: part of the txn appIds and of the shard states' place. @default "data-subscriber" */
  appName?: string;
  /** Where a shard with no state starts. @default TRIM_HORIZON */
  initialPosition?: IteratorPosition;
  batch?: BatcherOptions;
  reader?: ShardReaderOptions;
  lease: LeaseOptions;
  /** Test hook, called at each fault point. */
  fault?: FaultHook;
  /** Random numbers for retry jitter. @default Math.random */
  random?: () => number;
  /** How a batch that fails to commit for a reason other than an outage is tried again. @default POLICIES.batchCommit */
  commitPolicy?: RetryPolicy;
  /**
   * How long the store or the source may stay unavailable (lease rounds, reads, commits
   * failing with network errors, timeouts, 5xx, throttling) before the run fails with an
   * {@link OutageError}. Access errors end the run at once. @default Infinity
   */
  outageBudgetMs?: number;
}

export interface RunOptions {
  /** Read every shard up to its tip as of now, commit, and return (a scheduled job). */
  once?: boolean;
}

/**
 * The run loop: leases decide which shards this worker reads; shard readers feed the
 * micro-batcher; each batch goes through the exactly-once protocol ({@link ExactlyOnce}).
 * A shard taken with an intent in its state is replayed first. Knows nothing of the
 * domain: the sink does the writing.
 *
 * A gap in the stream is an operator's decision: when the record a shard must resume at
 * (or an intent's whole range) is no longer in the stream, the shard is marked stopped in
 * its state (nothing of a partial intent is committed), released, and left alone, with its
 * children, by every worker until `checkpoints reset`; the other shards go on.
 */
export class Supervisor {
  readonly #source: RecordSource;
  readonly #clock: Clock;
  readonly #events: SupervisorEvents;
  readonly #app: string;
  readonly #initial: IteratorPosition;
  readonly #opts: SupervisorOptions;
  readonly #leases: LeaseManager;
  readonly #batcher: MicroBatcher;
  readonly #protocol: ExactlyOnce;
  readonly #sink: BatchSink;
  readonly #tasks = new Map<string, { abort: AbortController; done: Promise<void> }>();
  #acquired = 0;
  #failure: unknown;
  #stop = new AbortController();
  #once = false;
  #flushWaiters: (() => void)[] = [];
  #batchLoopDone = false;

  constructor(source: RecordSource, states: ShardStateStore, clock: Clock, sink: BatchSink, options: SupervisorOptions, events: SupervisorEvents = {}) {
    this.#source = source;
    this.#clock = clock;
    this.#events = events;
    this.#opts = options;
    this.#app = options.appName ?? "data-subscriber";
    this.#initial = options.initialPosition ?? { type: "TRIM_HORIZON" };
    this.#batcher = new MicroBatcher(clock, options.batch);
    this.#sink = sink;
    this.#leases = new LeaseManager(source, states, clock, {
      acquired: (shardId, state) => this.#startShard(shardId, state),
      lost: (shardId) => this.#loseShard(shardId),
    }, options.lease);
    this.#protocol = new ExactlyOnce(this.#leases, sink, clock, {
      appId: (shardId) => this.appId(shardId),
      ...(options.fault ? { fault: options.fault } : {}),
      ...(options.random ? { random: options.random } : {}),
      ...(options.commitPolicy ? { commitPolicy: options.commitPolicy } : {}),
      ...(options.outageBudgetMs !== undefined ? { outageBudgetMs: options.outageBudgetMs } : {}),
      events: {
        ...events,
        shardFinished: (shardId) => {
          this.#leases.forget(shardId);
          this.#leases.requestShardSync();
          events.shardFinished?.(shardId);
        },
        shardLeftBatch: (shardId, reason) => {
          events.shardLeftBatch?.(shardId, reason);
          // Its state holds work this reader does not know of (an intent to replay): read
          // on and every batch would leave it again. Give the shard up; whoever takes it
          // next (this worker included) replays the intent first, then reads on.
          if (!this.#leases.holds(shardId)) return;
          this.#tasks.get(shardId)?.abort.abort();
          this.#batcher.drop(shardId);
          void this.#leases.release(shardId).catch(() => {});
        },
      },
    });
  }

  get leases(): LeaseManager {
    return this.#leases;
  }

  get batcher(): MicroBatcher {
    return this.#batcher;
  }

  /** The shards found stopped (by this worker, or by any as of the last lease round). */
  stoppedShards(): ReadonlyMap<string, Stopped> {
    return this.#leases.stoppedShards();
  }

  appId(shardId: string): string {
    return `${this.#app}/${this.#source.streamName}/${shardId}`;
  }

  /**
   * Runs until `signal` aborts (then stops reading, commits what is buffered, advances the
   * shard states and releases its leases) or, with `once`, until every shard is read to its tip.
   * @throws the first fatal error: a source error that retrying cannot fix, or a batch
   *   that could not be committed (its intent stays for the next run).
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
      /** When the lease rounds started failing (monotonic ms), while they do. */
      let failingSince: number | undefined;
      let failures = 0;
      while (!stop.signal.aborted) {
        this.#acquired = 0;
        try {
          await this.#leases.tick();
          this.#events.stoppedShards?.([...this.#leases.stoppedShards().keys()]);
        } catch (err) {
          // A stream that is gone or access refused ends the run; S3 or network trouble
          // is retried next round (held leases may expire meanwhile: CAS fences us then),
          // within the outage budget.
          if (err instanceof FatalSourceError || err instanceof DuplicateWorkerError || failureKind(err) === "access") throw err;
          const now = this.#clock.monoMs();
          failingSince ??= now;
          failures++;
          if (now - failingSince > (this.#opts.outageBudgetMs ?? Infinity)) throw new OutageError(dependencyOf(err), now - failingSince, err);
          this.#events.leaseRoundFailed?.(err);
          this.#events.leaseRound?.(false);
          if (dependencyOf(err)) {
            this.#events.unavailable?.({
              site: "lease-round",
              dependency: dependencyOf(err),
              error: err,
              attempt: failures,
              failingForMs: now - failingSince,
              delayMs: this.#leases.renewIntervalMs,
            });
          }
          await this.#clock.sleep(this.#leases.renewIntervalMs, stop.signal).catch(() => {});
          continue;
        }
        if (failingSince !== undefined) this.#events.recovered?.("lease-round", this.#clock.monoMs() - failingSince);
        [failingSince, failures] = [undefined, 0];
        this.#events.leaseRound?.(true);
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
        // A run-once job goes on as soon as its readers end; with none (waiting for another
        // owner's lease to be settled), it sleeps the round: an empty race would resolve at
        // once and the rounds would spin, reading every shard state without pause.
        const tasksDone = Promise.allSettled([...this.#tasks.values()].map((t) => t.done));
        await Promise.race([this.#clock.sleep(this.#leases.renewIntervalMs, stop.signal).catch(() => {}), ...(this.#once && this.#tasks.size > 0 ? [tasksDone] : [])]);
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
        if (batch && (batch.records > 0 || batch.slices.length > 0)) await this.#protocol.commitBatch(batch);
      } catch (err) {
        this.#failure ??= err;
      }
      if (readersDone && this.#batcher.bufferedRecords === 0) break;
      // Let the readers deliver what they hold, or see their abort.
      await Promise.race([settled, this.#clock.sleep(20)]);
    }
    // After a failure nothing more is committed: free blocked readers so they can stop.
    this.#batcher.close();
    await settled;
    await this.#protocol.idle();
    await this.#leases.releaseAll().catch((err) => (this.#failure ??= err));
  }

  /** Asks the batch loop to commit what is buffered now, and waits until it has (or has stopped). */
  #flush(): Promise<void> {
    if (this.#batchLoopDone) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.#flushWaiters.push(resolve));
    this.#batcher.flush();
    return done;
  }

  async #batchLoop(signal: AbortSignal): Promise<void> {
    try {
      for (;;) {
        const batch = await this.#batcher.next(signal);
        if (!batch) break;
        try {
          this.#events.commitStarted?.({ trigger: batch.trigger, flushed: batch.flushed, records: batch.records });
          await this.#protocol.commitBatch(batch);
        } catch (err) {
          this.#fail(err);
          break;
        }
        if (batch.flushed) for (const w of this.#flushWaiters.splice(0)) w();
      }
    } finally {
      this.#batchLoopDone = true;
      for (const w of this.#flushWaiters.splice(0)) w();
    }
  }

  #fail(err: unknown): void {
    this.#failure ??= err;
    this.#stop.abort(err);
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

  /** What records take in memory, as the sink weighs them (their payload when it does not). */
  #weigh(records: readonly UserRecord[], payload: number): number {
    if (!this.#sink.weigh) return payload;
    let weight = 0;
    for (const r of records) weight += this.#sink.weigh(r);
    return weight;
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
      ...(this.#opts.random ? { random: this.#opts.random } : {}),
      ...(this.#opts.outageBudgetMs !== undefined ? { outageBudgetMs: this.#opts.outageBudgetMs } : {}),
      ...this.#opts.reader,
      onRetry: (id, err) => this.#events.readRetry?.(id, err),
    });
    const hashKeyRange = this.#leases.shards.find((s) => s.shardId === shardId)?.hashKeyRange;
    let position = state.position;
    const epoch = state.lease.epoch ?? 0;
    if (state.intent) {
      const replayed = await this.#replay(reader, shardId, state.intent, epoch, signal, hashKeyRange);
      if (!replayed || state.intent.ends) return;
      position = state.intent.last ?? position;
    }
    if (state.finished) return;
    // Where an operator's reset said, once, in place of the position (records at or before
    // the position are still never committed again).
    const restart = state.intent ? null : state.restartAt ?? null;
    let delivered = false;
    try {
      await reader.read(
        { after: restart ? null : position, initial: restart ? iteratorAt(restart) : this.#initial, stopAtTip: this.#once, ...(hashKeyRange ? { hashKeyRange } : {}) },
        async (chunk) => {
          // A lease lost while this response was on its way: its records must not reach a
          // batch (the shard's buffer was dropped; a new owner reads them from its state).
          if (signal.aborted) return;
          this.#events.lag?.(shardId, chunk.millisBehindLatest);
          this.#events.recordsRead?.(shardId, { records: chunk.records.length, bytes: chunk.bytes, millisBehindLatest: chunk.millisBehindLatest });
          delivered ||= chunk.records.length > 0;
          await this.#batcher.push({ ...chunk, epoch, weight: this.#weigh(chunk.records, chunk.bytes) });
        },
        signal,
      );
    } catch (err) {
      if (!(err instanceof TrimmedError) || signal.aborted) throw err;
      // What was read before the gap is in no other place now: commit it before stopping.
      if (delivered) await this.#flush();
      await this.#stopShard(shardId, epoch, {
        reason: `The stream no longer has record ${at(err.asked)}, where the shard resumes: its retention trimmed it, and the records after it` +
          (err.firstAvailable === null ? " (the shard has none left)" : ` up to ${err.firstAvailable} (excluded)`) + " may never have been read",
        asked: err.asked,
        firstAvailable: err.firstAvailable,
      });
    }
  }

  /**
   * Marks a shard stopped at a gap (the lease holder's compare-and-swap, under the epoch it
   * was taken in), reports it, and releases it: nobody reads it again until it is reset.
   */
  async #stopShard(shardId: string, epoch: number, gap: { reason: string; asked: Position; firstAvailable: string | null; intent?: Intent }): Promise<void> {
    const stopped: Stopped = {
      reason: gap.reason,
      at: new Date(this.#clock.wallMs()).toISOString(),
      by: this.#leases.workerId,
      asked: gap.asked,
      firstAvailable: gap.firstAvailable,
      ...(gap.intent ? { intentBatch: gap.intent.batch } : {}),
    };
    if (!(await this.#protocol.stop(shardId, stopped, epoch))) return;
    this.#events.shardStopped?.({ stream: this.#source.streamName, shardId, stopped, intent: gap.intent ?? null });
    await this.#leases.release(shardId);
  }

  /**
   * Re-reads an intent's exact range and commits it as its own batch; a range the stream no
   * longer has in full stops the shard instead (nothing of it is committed).
   * @returns false when stopped first (aborted, or the shard stopped).
   */
  async #replay(reader: ShardReader, shardId: string, intent: Intent, epoch: number, signal: AbortSignal, hashKeyRange?: HashKeyRange): Promise<boolean> {
    const records: UserRecord[] = [];
    let bytes = 0;
    if (intent.first && intent.last) {
      const before: Position = { sequenceNumber: intent.first.sequenceNumber, subSequenceNumber: intent.first.subSequenceNumber - 1 };
      let outcome;
      let firstAvailable: string | null;
      let trimmed = false;
      try {
        outcome = await reader.read({ after: before, first: intent.first, initial: { type: "TRIM_HORIZON" }, until: intent.last, ...(hashKeyRange ? { hashKeyRange } : {}) }, (chunk) => {
          for (const r of chunk.records) records.push(r);
          bytes += chunk.bytes;
          return Promise.resolve();
        }, signal);
        if (outcome === "aborted") return false;
        firstAvailable = records[0]?.sequenceNumber ?? null;
      } catch (err) {
        if (!(err instanceof TrimmedError) || signal.aborted) throw err;
        firstAvailable = err.firstAvailable;
        trimmed = true;
      }
      if (trimmed || records.length !== intent.records) {
        await this.#stopShard(shardId, epoch, {
          reason: `Batch ${intent.batch} of the shard (${intent.records} records from ${at(intent.first)} to ${at(intent.last)}) cannot be replayed in full: ` +
            (trimmed ? "the stream no longer has its first record (trimmed by its retention)" : `the stream gave ${records.length} of them`) +
            ", so it is not committed in part; " +
            `the tables that committed it before keep it, the others may never get its records`,
          asked: intent.first,
          firstAvailable,
          intent,
        });
        return false;
      }
    }
    await this.#protocol.replay(shardId, intent, records, bytes, epoch);
    return true;
  }
}

/** A position as `sequence/sub-sequence`. */
function at(p: Position): string {
  return `${p.sequenceNumber}/${p.subSequenceNumber}`;
}

/** The iterator position of an operator's restart position. */
function iteratorAt(p: RestartPosition): IteratorPosition {
  return p.type === "AT_TIMESTAMP" ? { type: "AT_TIMESTAMP", timestamp: new Date(p.timestamp) } : { type: p.type };
}
