import { createHash } from "node:crypto";
import type { Clock } from "../../ports/clock.ts";
import {
  ExpiredIteratorError,
  FatalSourceError,
  type HashKeyRange,
  type IteratorPosition,
  type KinesisRecord,
  type ReadResult,
  type RecordSource,
  type ShardDescription,
  ThrottledError,
  TransientSourceError,
} from "../../ports/record_source.ts";
import { systemClock } from "../../ports/clock.ts";

/** A fault the script injects into the next GetRecords call of a shard. */
export type Fault = "throttle" | "expire" | "error" | "empty";

interface Shard {
  desc: ShardDescription;
  records: (KinesisRecord & { arrivalMs: number })[];
  closed: boolean;
  /** Records at the front that the retention trimmed: indexes below this are gone. */
  trimmed: number;
}

/** How a {@link ScriptedSource} behaves beyond its shards. */
export interface ScriptedSourceOptions {
  /**
   * The stream's retention period: records that arrived longer ago than this on the clock's
   * wall time are trimmed, as Kinesis does after 24 hours (up to 365 days). @default Infinity (nothing is trimmed)
   */
  retentionMs?: number;
}

const MAX_HASH = 2n ** 128n - 1n;
const ITERATOR_TTL_MS = 5 * 60_000;

/**
 * An in-memory Kinesis stream for tests and benchmarks: shards with hash key ranges,
 * puts routed by the MD5 of the partition key, splits and merges that close parents and
 * open children, iterators that expire after 5 minutes on the given clock, and faults
 * scripted per shard (throttles, expired iterators, server errors, empty responses), and
 * a retention that trims old records ({@link trimBefore}, or the `retentionMs` option) the
 * way Kinesis does: TRIM_HORIZON starts at the oldest record kept, and an iterator at or
 * after a trimmed record (or one taken before the trim) starts at the trim horizon, silently.
 *
 * Sequence numbers start just below 10^21 so that they cross a digit-count boundary: a
 * reader that compares them as strings or Numbers goes wrong.
 */
export class ScriptedSource implements RecordSource {
  readonly streamName: string;
  readonly #clock: Clock;
  readonly #retentionMs: number;
  readonly #shards = new Map<string, Shard>();
  #nextShard = 0;
  #nextSeq = 10n ** 21n - 50n;
  /** Faults per shard, taken one per GetRecords call. */
  readonly faults = new Map<string, Fault[]>();
  /** GetRecords calls made, per shard. */
  readonly calls = new Map<string, number>();

  constructor(streamName: string, shardCount: number, clock: Clock = systemClock, options: ScriptedSourceOptions = {}) {
    this.streamName = streamName;
    this.#clock = clock;
    this.#retentionMs = options.retentionMs ?? Infinity;
    const width = (MAX_HASH + 1n) / BigInt(shardCount);
    for (let i = 0; i < shardCount; i++) {
      const start = width * BigInt(i);
      const end = i === shardCount - 1 ? MAX_HASH : start + width - 1n;
      this.#addShard({ startingHashKey: String(start), endingHashKey: String(end) });
    }
  }

  /** Puts one record; @returns its shard and sequence number. */
  put(partitionKey: string, data: Uint8Array, explicitHashKey?: string): { shardId: string; sequenceNumber: string } {
    const hash = explicitHashKey !== undefined ? BigInt(explicitHashKey) : BigInt("0x" + createHash("md5").update(partitionKey).digest("hex"));
    const shard = [...this.#shards.values()].find(
      (s) => !s.closed && BigInt(s.desc.hashKeyRange.startingHashKey) <= hash && hash <= BigInt(s.desc.hashKeyRange.endingHashKey),
    );
    if (!shard) throw new Error(`No open shard for hash key ${hash}`);
    const sequenceNumber = String(this.#nextSeq++);
    const arrivalMs = this.#clock.wallMs();
    shard.records.push({ data, partitionKey, sequenceNumber, approximateArrivalTimestamp: new Date(arrivalMs), arrivalMs });
    return { shardId: shard.desc.shardId, sequenceNumber };
  }

  /** Splits an open shard at the middle of its range; @returns the two children. */
  split(shardId: string): [string, string] {
    const parent = this.#open(shardId);
    const lo = BigInt(parent.desc.hashKeyRange.startingHashKey);
    const hi = BigInt(parent.desc.hashKeyRange.endingHashKey);
    const mid = lo + (hi - lo) / 2n;
    this.#close(parent);
    const a = this.#addShard({ startingHashKey: String(lo), endingHashKey: String(mid) }, shardId);
    const b = this.#addShard({ startingHashKey: String(mid + 1n), endingHashKey: String(hi) }, shardId);
    return [a, b];
  }

  /** Merges two open shards with adjacent ranges; @returns the child. */
  merge(shardId: string, adjacentShardId: string): string {
    const a = this.#open(shardId);
    const b = this.#open(adjacentShardId);
    const [lo, hi] = BigInt(a.desc.hashKeyRange.startingHashKey) < BigInt(b.desc.hashKeyRange.startingHashKey) ? [a, b] : [b, a];
    this.#close(a);
    this.#close(b);
    return this.#addShard({ startingHashKey: lo.desc.hashKeyRange.startingHashKey, endingHashKey: hi.desc.hashKeyRange.endingHashKey }, shardId, adjacentShardId);
  }

  /** Open shards, in hash key order. */
  openShards(): string[] {
    return [...this.#shards.values()].filter((s) => !s.closed).sort((x, y) => (BigInt(x.desc.hashKeyRange.startingHashKey) < BigInt(y.desc.hashKeyRange.startingHashKey) ? -1 : 1)).map((s) => s.desc.shardId);
  }

  /**
   * Trims the records that arrived before `wallMs`, as the stream's retention does: of
   * every shard, or of `shardId` only (Kinesis trims each shard on its own schedule).
   * Trimming only moves forward. @returns how many records were trimmed.
   */
  trimBefore(wallMs: number, shardId?: string): number {
    let n = 0;
    for (const s of this.#shards.values()) {
      if (shardId !== undefined && s.desc.shardId !== shardId) continue;
      const before = s.trimmed;
      while (s.trimmed < s.records.length && s.records[s.trimmed]!.arrivalMs < wallMs) s.trimmed++;
      n += s.trimmed - before;
    }
    return n;
  }

  /** Queues faults for the next GetRecords calls on a shard. */
  inject(shardId: string, ...faults: Fault[]): void {
    this.faults.set(shardId, [...(this.faults.get(shardId) ?? []), ...faults]);
  }

  listShards(): Promise<ShardDescription[]> {
    return Promise.resolve([...this.#shards.values()].map((s) => structuredClone(s.desc)));
  }

  getIterator(shardId: string, position: IteratorPosition): Promise<string> {
    const shard = this.#shards.get(shardId);
    if (!shard) return Promise.reject(new FatalSourceError(`Shard ${shardId} not found in stream ${this.streamName}`));
    const horizon = this.#horizon(shard);
    let index: number;
    switch (position.type) {
      case "TRIM_HORIZON": index = horizon; break;
      case "LATEST": index = shard.records.length; break;
      case "AT_TIMESTAMP": {
        const t = position.timestamp.getTime();
        index = shard.records.findIndex((r) => r.arrivalMs >= t);
        if (index < 0) index = shard.records.length;
        break;
      }
      case "AT_SEQUENCE_NUMBER":
      case "AFTER_SEQUENCE_NUMBER": {
        const seq = BigInt(position.sequenceNumber);
        index = shard.records.findIndex((r) => (position.type === "AT_SEQUENCE_NUMBER" ? BigInt(r.sequenceNumber) >= seq : BigInt(r.sequenceNumber) > seq));
        if (index < 0) index = shard.records.length;
      }
    }
    // At or after a record the retention trimmed: the trim horizon, with no error (as Kinesis).
    index = Math.max(index, horizon);
    return Promise.resolve(JSON.stringify({ shardId, index, issuedMs: this.#clock.monoMs(), issuedWallMs: this.#clock.wallMs() }));
  }

  getRecords(iterator: string, limit: number): Promise<ReadResult> {
    const it = JSON.parse(iterator) as { shardId: string; index: number; issuedMs: number; issuedWallMs?: number };
    const shard = this.#shards.get(it.shardId)!;
    this.calls.set(it.shardId, (this.calls.get(it.shardId) ?? 0) + 1);
    const fault = this.faults.get(it.shardId)?.shift();
    if (fault === "throttle") return Promise.reject(new ThrottledError(`Rate exceeded for shard ${it.shardId}`));
    if (fault === "error") return Promise.reject(new TransientSourceError("500 InternalFailure"));
    // Expired after 5 minutes of either clock: a wall-clock jump stands for time that passed.
    if (fault === "expire" || this.#clock.monoMs() - it.issuedMs > ITERATOR_TTL_MS || this.#clock.wallMs() - (it.issuedWallMs ?? -Infinity) > ITERATOR_TTL_MS) {
      return Promise.reject(new ExpiredIteratorError(`Iterator expired for shard ${it.shardId}`));
    }
    const now = this.#clock.monoMs();
    const next = (index: number) => JSON.stringify({ shardId: it.shardId, index, issuedMs: now, issuedWallMs: this.#clock.wallMs() });
    if (fault === "empty") {
      return Promise.resolve({ records: [], nextIterator: next(it.index), millisBehindLatest: this.#behind(shard, it.index) });
    }
    // Records trimmed since the iterator was taken are skipped: it goes on at the trim horizon.
    const start = Math.max(it.index, this.#horizon(shard));
    const records = shard.records.slice(start, start + limit);
    const end = start + records.length;
    const ended = shard.closed && end >= shard.records.length;
    const children = ended ? [...this.#shards.values()].filter((s) => s.desc.parentShardId === it.shardId || s.desc.adjacentParentShardId === it.shardId) : [];
    return Promise.resolve({
      records: records.map(({ arrivalMs: _, ...r }) => r),
      nextIterator: ended ? undefined : next(end),
      millisBehindLatest: this.#behind(shard, end),
      ...(ended ? { childShards: children.map((c) => ({ shardId: c.desc.shardId, parentShards: [c.desc.parentShardId, c.desc.adjacentParentShardId].filter((p): p is string => !!p) })) } : {}),
    });
  }

  /** The index of the shard's oldest record kept, after applying the retention at the clock's time. */
  #horizon(shard: Shard): number {
    if (this.#retentionMs !== Infinity) this.trimBefore(this.#clock.wallMs() - this.#retentionMs, shard.desc.shardId);
    return shard.trimmed;
  }

  #behind(shard: Shard, index: number): number {
    const r = shard.records[index];
    return r ? Math.max(1, this.#clock.wallMs() - r.arrivalMs) : 0;
  }

  #open(shardId: string): Shard {
    const s = this.#shards.get(shardId);
    if (!s || s.closed) throw new Error(`Shard ${shardId} is not open`);
    return s;
  }

  #close(s: Shard): void {
    s.closed = true;
    s.desc.endingSequenceNumber = s.records.at(-1)?.sequenceNumber ?? String(this.#nextSeq - 1n);
  }

  #addShard(range: HashKeyRange, parent?: string, adjacent?: string): string {
    const shardId = `shardId-${String(this.#nextShard++).padStart(12, "0")}`;
    this.#shards.set(shardId, {
      desc: { shardId, hashKeyRange: range, ...(parent ? { parentShardId: parent } : {}), ...(adjacent ? { adjacentParentShardId: adjacent } : {}) },
      records: [],
      closed: false,
      trimmed: 0,
    });
    return shardId;
  }
}
