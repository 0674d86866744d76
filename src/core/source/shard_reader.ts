import type { Clock } from "../../ports/clock.ts";
import {
  ExpiredIteratorError,
  FatalSourceError,
  type IteratorPosition,
  type HashKeyRange,
  type ReadResult,
  type RecordSource,
  SourceError,
  TrimmedError,
} from "../../ports/record_source.ts";
import { belongsToShard, deaggregate } from "../kinesis/deaggregate.ts";
import { POLICIES } from "../retry/policies.ts";
import { retry, RetryExhaustedError, type RetryPolicy } from "../retry/retry.ts";
import { OutageError } from "../retry/failure_kind.ts";
import { comparePositions, type Position } from "../kinesis/position.ts";
import type { UserRecord } from "../kinesis/records.ts";

/** What a shard reader hands on: the user records of one GetRecords response. */
export interface ShardChunk {
  shardId: string;
  records: UserRecord[];
  /** Payload bytes of the records. */
  bytes: number;
  millisBehindLatest: number;
  /** The shard is closed and this was its last response. */
  ended: boolean;
  /** The lease epoch the reader runs under, set by the supervisor. */
  epoch?: number;
  /** Accounted bytes (payload plus the decoded estimate), set by the supervisor; `bytes` when absent. */
  weight?: number;
  childShards?: { shardId: string; parentShards: string[] }[];
}

export interface ShardReaderOptions {
  /** Records asked for per GetRecords call (Kinesis allows 10,000). @default 10_000 */
  maxRecordsPerCall?: number;
  /** GetRecords calls per second at most (Kinesis allows 5 per shard). @default 5 */
  maxCallsPerSecond?: number;
  /** Bytes read per second at most (Kinesis allows 2 MiB per shard). @default 2 MiB */
  maxBytesPerSecond?: number;
  /** Pause between calls once at the tip of the shard. @default 1_000 */
  idleDelayMs?: number;
  /**
   * First pause after a throttle or a transient error; doubles up to `maxBackoffMs`, with
   * the jitter of {@link POLICIES.kinesisRead}. @default POLICIES.kinesisRead.initialDelayMs (1 s)
   */
  backoffMs?: number;
  /** @default POLICIES.kinesisRead.maxDelayMs (10 s) */
  maxBackoffMs?: number;
  /** Random numbers in [0, 1) for the backoff's jitter; a seeded source in simulations. @default Math.random */
  random?: () => number;
  /**
   * How long the source may keep failing (throttles, transient errors) before the reader
   * gives up with an {@link OutageError}. @default Infinity
   */
  outageBudgetMs?: number;
  /** Called on each retried failure (throttle, expired iterator, transient error). */
  onRetry?: (shardId: string, err: SourceError) => void;
}

/** Where a shard reader starts and stops. */
export interface ReadRange {
  /**
   * Resume after this user record (the last one committed). The stream must still have
   * it: when the first record read is a later one, the retention trimmed it and what lay
   * between may be lost, and the read fails with {@link TrimmedError}.
   */
  after?: Position | null;
  /**
   * The first user record this read must deliver, exactly (replaying an intent: `after`
   * is the user record just before it). Anything else fails with {@link TrimmedError}.
   */
  first?: Position;
  /** Where to start when there is no `after`. */
  initial: IteratorPosition;
  /** Stop once this user record has been delivered (replaying an intent). */
  until?: Position;
  /** Stop once a response is empty and not behind: the tip as of now (run-once). */
  stopAtTip?: boolean;
  /** The shard's hash key range: aggregated sub-records outside it are marked `outsideShard`. */
  hashKeyRange?: HashKeyRange;
}

export type ReaderOutcome = "ended" | "until" | "tip" | "aborted";

/**
 * Reads one shard from a position, within Kinesis' per-shard limits, and passes its user
 * records (KPL records de-aggregated) to `deliver`, whose promise is the backpressure.
 *
 * Resuming after an aggregated record uses AT_SEQUENCE_NUMBER and drops the user records
 * at or before the position, so a batch that ended in the middle of an aggregated record
 * continues with its next sub-record. Throttles and transient errors back off with
 * jitter ({@link POLICIES.kinesisRead}); an expired iterator is acquired again from the
 * last record delivered, without a pause.
 *
 * Gaps are never skipped silently. Kinesis answers AT_SEQUENCE_NUMBER of a record its
 * retention trimmed with an iterator at the trim horizon, without an error; so every
 * iterator taken at a record must answer with that record first: empty responses behind
 * the tip wait for the first record, an empty one at the tip (twice, the second from a fresh
 * iterator) means the record is gone.
 *
 * @throws {FatalSourceError} when the stream, the shard or access is gone.
 * @throws {TrimmedError} when the record to resume at (or a replayed range's first) is no
 *   longer in the stream: records may be lost, and an operator decides where to go on.
 */
export class ShardReader {
  readonly #source: RecordSource;
  readonly #shardId: string;
  readonly #clock: Clock;
  readonly #opts: Required<Omit<ShardReaderOptions, "onRetry" | "random" | "backoffMs" | "maxBackoffMs" | "outageBudgetMs">> & Pick<ShardReaderOptions, "onRetry" | "random">;
  /** {@link POLICIES.kinesisRead}, with the delays of the options. */
  readonly #backoff: RetryPolicy;

  constructor(source: RecordSource, shardId: string, clock: Clock, options: ShardReaderOptions = {}) {
    this.#source = source;
    this.#shardId = shardId;
    this.#clock = clock;
    this.#opts = {
      maxRecordsPerCall: options.maxRecordsPerCall ?? 10_000,
      maxCallsPerSecond: options.maxCallsPerSecond ?? 5,
      maxBytesPerSecond: options.maxBytesPerSecond ?? 2 * 1024 * 1024,
      idleDelayMs: options.idleDelayMs ?? 1_000,
      ...(options.random ? { random: options.random } : {}),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    };
    this.#backoff = {
      ...POLICIES.kinesisRead,
      initialDelayMs: options.backoffMs ?? POLICIES.kinesisRead.initialDelayMs,
      maxDelayMs: options.maxBackoffMs ?? POLICIES.kinesisRead.maxDelayMs,
      budgetMs: options.outageBudgetMs ?? Infinity,
    };
  }

  async read(range: ReadRange, deliver: (chunk: ShardChunk) => Promise<void>, signal: AbortSignal): Promise<ReaderOutcome> {
    let last: Position | null = range.after ?? null;
    let iterator: string | undefined;
    /** The record the next non-empty response must start with: the one a new iterator was taken at. */
    let mustStartAt: Position | null = null;
    let delivered = false;
    /** An iterator taken at a record answered empty at the tip once already (see below). */
    let emptyAtTip = false;
    let nextCallAt = this.#clock.monoMs();
    /**
     * One GetRecords call, paced. An expired iterator is acquired again from the last
     * record delivered and the call made again at once; other failures reach `retry`.
     */
    const call = async (): Promise<ReadResult> => {
      for (;;) {
        await this.#sleepUntil(nextCallAt, signal);
        if (signal.aborted) throw signal.reason;
        try {
          if (iterator === undefined) {
            iterator = await this.#source.getIterator(this.#shardId, this.#position(last, range.initial), signal);
            mustStartAt = last;
          }
          const calledAt = this.#clock.monoMs();
          const res = await this.#source.getRecords(iterator, this.#opts.maxRecordsPerCall, signal);
          nextCallAt = calledAt + 1000 / this.#opts.maxCallsPerSecond;
          return res;
        } catch (err) {
          if (!(err instanceof ExpiredIteratorError) || signal.aborted) throw err;
          iterator = undefined;
          this.#opts.onRetry?.(this.#shardId, err);
        }
      }
    };
    while (!signal.aborted) {
      let res: ReadResult;
      try {
        // Throttled, or a network or server error: the iterator stays valid (5 minutes).
        res = await retry(call, this.#backoff, {
          clock: this.#clock,
          signal,
          retriable: (err) => !(err instanceof FatalSourceError || err instanceof TrimmedError),
          ...(this.#opts.random ? { random: this.#opts.random } : {}),
          onRetry: (e) => this.#opts.onRetry?.(this.#shardId, e.error instanceof SourceError ? e.error : new SourceError(String(e.error), { cause: e.error })),
        });
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof RetryExhaustedError) throw new OutageError("source", err.failingForMs, err.cause);
        throw err;
      }
      // (Set by `call`, which the compiler does not follow.)
      const startAt = mustStartAt as Position | null;
      if (startAt) {
        // Kinesis may answer empty while records follow: the first record that comes decides.
        const first = res.records[0];
        const asked = !delivered && range.first ? range.first : startAt;
        if (first && BigInt(first.sequenceNumber) > BigInt(startAt.sequenceNumber)) throw new TrimmedError(this.#shardId, asked, first.sequenceNumber);
        if (!first && res.nextIterator === undefined) throw new TrimmedError(this.#shardId, asked, null);
        if (first) {
          mustStartAt = null;
          emptyAtTip = false;
        }
        // Empty and at the tip: the record the iterator was taken at is not there (an open
        // shard whose every record was trimmed, with no new one since). Waiting for the next
        // record would hide the gap for as long as none comes, and run-once would end at this
        // "tip" with the loss unreported. Asked once more with a fresh iterator, then a gap.
        else if (res.millisBehindLatest === 0) {
          if (emptyAtTip) throw new TrimmedError(this.#shardId, asked, null);
          emptyAtTip = true;
          iterator = undefined;
          continue;
        }
      }
      const users: UserRecord[] = [];
      let bytes = 0;
      let reachedUntil = false;
      for (const r of res.records) {
        bytes += r.data.length;
        for (const u of deaggregate(r)) {
          if (last && comparePositions(u, last) <= 0) continue;
          if (!delivered && range.first && comparePositions(u, range.first) !== 0) throw new TrimmedError(this.#shardId, range.first, u.sequenceNumber);
          if (range.until && comparePositions(u, range.until) > 0) {
            reachedUntil = true;
            break;
          }
          if (u.aggregated && range.hashKeyRange && !belongsToShard(u, range.hashKeyRange)) u.outsideShard = true;
          users.push(u);
          delivered = true;
        }
        if (reachedUntil) break;
      }
      if (users.length > 0) last = { sequenceNumber: users.at(-1)!.sequenceNumber, subSequenceNumber: users.at(-1)!.subSequenceNumber };
      const ended = res.nextIterator === undefined;
      if (range.until && last && comparePositions(last, range.until) >= 0) reachedUntil = true;
      await deliver({
        shardId: this.#shardId,
        records: users,
        bytes,
        millisBehindLatest: res.millisBehindLatest,
        ended: ended && !reachedUntil,
        ...(ended && res.childShards ? { childShards: res.childShards } : {}),
      });
      if (reachedUntil) return "until";
      if (ended) return "ended";
      // At the tip: nothing came back and nothing is behind. (MillisBehindLatest alone can be
      // 0 with records still to read, when they arrived within the same millisecond.)
      if (range.stopAtTip && res.records.length === 0 && res.millisBehindLatest === 0) return "tip";
      iterator = res.nextIterator;
      // The 2 MiB/s read limit: a response of B bytes uses B / limit seconds of the budget.
      nextCallAt = Math.max(nextCallAt, this.#clock.monoMs() + (bytes / this.#opts.maxBytesPerSecond) * 1000);
      if (res.records.length === 0 && res.millisBehindLatest === 0) {
        nextCallAt = Math.max(nextCallAt, this.#clock.monoMs() + this.#opts.idleDelayMs);
      }
    }
    return "aborted";
  }

  #position(last: Position | null, initial: IteratorPosition): IteratorPosition {
    return last ? { type: "AT_SEQUENCE_NUMBER", sequenceNumber: last.sequenceNumber } : initial;
  }

  async #sleepUntil(at: number, signal: AbortSignal): Promise<void> {
    const wait = at - this.#clock.monoMs();
    if (wait > 0) await this.#clock.sleep(wait, signal).catch(() => {});
  }
}
