import type { Clock } from "../../ports/clock.ts";
import {
  ExpiredIteratorError,
  FatalSourceError,
  type IteratorPosition,
  type HashKeyRange,
  type ReadResult,
  type RecordSource,
  SourceError,
} from "../../ports/record_source.ts";
import { belongsToShard, deaggregate } from "../kinesis/deaggregate.ts";
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
  /** First pause after a throttle or a transient error; doubles up to `maxBackoffMs`, ±50 % jitter. @default 1_000 */
  backoffMs?: number;
  /** @default 10_000 */
  maxBackoffMs?: number;
  /** Called on each retried failure (throttle, expired iterator, transient error). */
  onRetry?: (shardId: string, err: SourceError) => void;
}

/** Where a shard reader starts and stops. */
export interface ReadRange {
  /** Resume after this user record (the last one committed). */
  after?: Position | null;
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
 * jitter; an expired iterator is acquired again from the last record delivered.
 *
 * @throws {FatalSourceError} when the stream, the shard or access is gone.
 */
export class ShardReader {
  readonly #source: RecordSource;
  readonly #shardId: string;
  readonly #clock: Clock;
  readonly #opts: Required<Omit<ShardReaderOptions, "onRetry">> & Pick<ShardReaderOptions, "onRetry">;

  constructor(source: RecordSource, shardId: string, clock: Clock, options: ShardReaderOptions = {}) {
    this.#source = source;
    this.#shardId = shardId;
    this.#clock = clock;
    this.#opts = {
      maxRecordsPerCall: options.maxRecordsPerCall ?? 10_000,
      maxCallsPerSecond: options.maxCallsPerSecond ?? 5,
      maxBytesPerSecond: options.maxBytesPerSecond ?? 2 * 1024 * 1024,
      idleDelayMs: options.idleDelayMs ?? 1_000,
      backoffMs: options.backoffMs ?? 1_000,
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    };
  }

  async read(range: ReadRange, deliver: (chunk: ShardChunk) => Promise<void>, signal: AbortSignal): Promise<ReaderOutcome> {
    let last: Position | null = range.after ?? null;
    let iterator: string | undefined;
    let failures = 0;
    let nextCallAt = this.#clock.monoMs();
    while (!signal.aborted) {
      await this.#sleepUntil(nextCallAt, signal);
      if (signal.aborted) break;
      let res: ReadResult;
      try {
        iterator ??= await this.#source.getIterator(this.#shardId, this.#position(last, range.initial), signal);
        const calledAt = this.#clock.monoMs();
        res = await this.#source.getRecords(iterator, this.#opts.maxRecordsPerCall, signal);
        nextCallAt = calledAt + 1000 / this.#opts.maxCallsPerSecond;
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof FatalSourceError) throw err;
        if (err instanceof ExpiredIteratorError) {
          iterator = undefined;
          this.#opts.onRetry?.(this.#shardId, err);
          continue;
        }
        const wrapped = err instanceof SourceError ? err : new SourceError(String(err), { cause: err });
        this.#opts.onRetry?.(this.#shardId, wrapped);
        failures++;
        // Throttled, or a network or server error: the iterator stays valid (5 minutes).
        const base = Math.min(this.#opts.maxBackoffMs, this.#opts.backoffMs * 2 ** (failures - 1));
        nextCallAt = this.#clock.monoMs() + base * (0.5 + Math.random());
        continue;
      }
      const users: UserRecord[] = [];
      let bytes = 0;
      let reachedUntil = false;
      for (const r of res.records) {
        bytes += r.data.length;
        for (const u of deaggregate(r)) {
          if (last && comparePositions(u, last) <= 0) continue;
          if (range.until && comparePositions(u, range.until) > 0) {
            reachedUntil = true;
            break;
          }
          if (u.aggregated && range.hashKeyRange && !belongsToShard(u, range.hashKeyRange)) u.outsideShard = true;
          users.push(u);
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
