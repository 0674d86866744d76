import type { Clock } from "../ports/clock.ts";
import type { UserRecord } from "../core/kinesis/records.ts";
import type { ShardChunk } from "../core/source/shard_reader.ts";

export interface BatcherOptions {
  /** Flush at this many user records. @default 10_000 */
  maxRecords?: number;
  /**
   * Flush at this many accounted bytes: payload, plus the sink's estimate of what decoding
   * it takes in memory (see `BatchSink.weigh`). @default 64 MiB
   */
  maxBytes?: number;
  /** Flush when the oldest buffered record waited this long. @default 10_000 */
  maxAgeMs?: number;
  /** Readers wait (backpressure) while this many accounted bytes are buffered. @default maxBytes */
  maxBufferedBytes?: number;
  /**
   * Readers wait (backpressure) while this many records are buffered: by default one batch
   * ready while one commits, which keeps the sink busy; more only adds memory (each
   * buffered batch of orders held about 30 MiB). @default maxRecords
   */
  maxBufferedRecords?: number;
}

/** The records of one shard in a batch, in shard order. */
export interface ShardSlice {
  shardId: string;
  records: UserRecord[];
  /** Payload bytes. */
  bytes: number;
  /** Accounted bytes: payload plus the decoded estimate (what memory the records take). */
  weight: number;
  /** The shard ended: its last records are in this slice. */
  ended: boolean;
  millisBehindLatest: number;
  /** The lease epoch the records were read under (see the exactly-once protocol's fencing). */
  epoch?: number;
}

export interface Batch {
  slices: ShardSlice[];
  records: number;
  bytes: number;
  /** Why it was flushed. */
  trigger: "records" | "bytes" | "age" | "end" | "flush";
  /** A flush had been asked for when this batch was taken. */
  flushed: boolean;
}

/**
 * Gathers the records of all shards into batches, flushed by record count, bytes or age,
 * whichever comes first (or at once when a shard ends, so its children can start); a
 * batch never holds more than `maxRecords`. While the buffer holds `maxBufferedBytes` or
 * `maxBufferedRecords`, `push` does not resolve: readers stop polling instead of memory
 * growing.
 */
export class MicroBatcher {
  readonly #clock: Clock;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  readonly #maxBuffered: number;
  readonly #maxBufferedRecords: number;
  #slices = new Map<string, ShardSlice>();
  #records = 0;
  #bytes = 0;
  #weight = 0;
  #firstAt: number | undefined;
  #ended = false;
  #flushRequested = false;
  #wakeTaker: (() => void) | undefined;
  #spaceWaiters: (() => void)[] = [];
  #closed = false;

  constructor(clock: Clock, options: BatcherOptions = {}) {
    this.#clock = clock;
    this.#maxRecords = options.maxRecords ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#maxAgeMs = options.maxAgeMs ?? 10_000;
    this.#maxBuffered = options.maxBufferedBytes ?? this.#maxBytes;
    this.#maxBufferedRecords = options.maxBufferedRecords ?? this.#maxRecords;
  }

  get bufferedRecords(): number {
    return this.#records;
  }

  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Accounted bytes buffered (payload plus decoded estimate): what the caps apply to. */
  get bufferedWeight(): number {
    return this.#weight;
  }

  /** Adds a reader's chunk; resolves once there is room for more. */
  async push(chunk: ShardChunk): Promise<void> {
    if (chunk.records.length > 0 || chunk.ended) {
      let s = this.#slices.get(chunk.shardId);
      // Records of an earlier hold of the lease are never mixed with this one's.
      if (s && s.epoch !== chunk.epoch) {
        this.drop(chunk.shardId);
        s = undefined;
      }
      if (!s) {
        s = { shardId: chunk.shardId, records: [], bytes: 0, weight: 0, ended: false, millisBehindLatest: 0, ...(chunk.epoch !== undefined ? { epoch: chunk.epoch } : {}) };
        this.#slices.set(chunk.shardId, s);
      }
      for (const r of chunk.records) s.records.push(r);
      const weight = chunk.weight ?? chunk.bytes;
      s.bytes += chunk.bytes;
      s.weight += weight;
      s.ended ||= chunk.ended;
      s.millisBehindLatest = chunk.millisBehindLatest;
      this.#records += chunk.records.length;
      this.#bytes += chunk.bytes;
      this.#weight += weight;
      this.#ended ||= chunk.ended;
      this.#firstAt ??= this.#clock.monoMs();
      this.#wakeTaker?.();
    }
    while (this.#full() && !this.#closed) await new Promise<void>((r) => this.#spaceWaiters.push(r));
  }

  /** Stops backpressure for good: every waiting and later `push` resolves at once. */
  close(): void {
    this.#closed = true;
    for (const w of this.#spaceWaiters.splice(0)) w();
  }

  /** Forgets what was buffered for a shard whose lease was lost. */
  drop(shardId: string): void {
    const s = this.#slices.get(shardId);
    if (!s) return;
    this.#slices.delete(shardId);
    this.#records -= s.records.length;
    this.#bytes -= s.bytes;
    this.#weight -= s.weight;
    if (this.#slices.size === 0) this.#firstAt = undefined;
    this.#release();
  }

  /** Makes the next `next()` return what is buffered now (shutdown, run-once). */
  flush(): void {
    this.#flushRequested = true;
    this.#wakeTaker?.();
  }

  /** Why a batch is due now, or undefined. */
  #due(): Batch["trigger"] | undefined {
    if (this.#records >= this.#maxRecords) return "records";
    if (this.#weight >= this.#maxBytes) return "bytes";
    if (this.#ended) return "end";
    if (this.#flushRequested) return "flush";
    if (this.#firstAt !== undefined && this.#clock.monoMs() - this.#firstAt >= this.#maxAgeMs) return "age";
    return undefined;
  }

  /**
   * Waits for the next batch. With a flush requested it returns what is buffered, which
   * may be empty. @returns `undefined` when the signal aborts first.
   */
  async next(signal: AbortSignal): Promise<Batch | undefined> {
    for (;;) {
      const trigger = this.#due();
      if (trigger) return this.#take(trigger);
      if (signal.aborted) return undefined;
      const wait = this.#firstAt === undefined ? this.#maxAgeMs : this.#firstAt + this.#maxAgeMs - this.#clock.monoMs();
      // Sleep until the age trigger, a push, a flush or the caller's abort, whichever first.
      const wake = new AbortController();
      const onAbort = () => wake.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#wakeTaker = () => wake.abort();
      await this.#clock.sleep(Math.max(1, wait), wake.signal).catch(() => {});
      signal.removeEventListener("abort", onAbort);
      this.#wakeTaker = undefined;
    }
  }

  #take(trigger: Batch["trigger"]): Batch {
    const flushed = this.#flushRequested;
    this.#flushRequested = false;
    if (this.#records <= this.#maxRecords) {
      const batch: Batch = { slices: [...this.#slices.values()], records: this.#records, bytes: this.#bytes, trigger, flushed };
      this.#slices = new Map();
      this.#records = 0;
      this.#bytes = 0;
      this.#weight = 0;
      this.#firstAt = undefined;
      this.#ended = false;
      this.#release();
      return batch;
    }
    // More than a batch is buffered: take `maxRecords`, shard by shard in order, and move
    // a shard that was cut to the back so that every shard gets its turn.
    const slices: ShardSlice[] = [];
    let records = 0;
    let bytes = 0;
    let weight = 0;
    for (const [id, s] of [...this.#slices]) {
      const room = this.#maxRecords - records;
      if (room <= 0) break;
      this.#slices.delete(id);
      if (s.records.length <= room) {
        slices.push(s);
        records += s.records.length;
        bytes += s.bytes;
        weight += s.weight;
        continue;
      }
      const before = s.records.length;
      const head = s.records.splice(0, room);
      let headBytes = 0;
      for (const r of head) headBytes += r.data.length;
      headBytes = Math.min(headBytes, s.bytes);
      s.bytes -= headBytes;
      const headWeight = Math.min(s.weight, Math.round((s.weight * head.length) / before));
      s.weight -= headWeight;
      slices.push({ shardId: id, records: head, bytes: headBytes, weight: headWeight, ended: false, millisBehindLatest: s.millisBehindLatest, ...(s.epoch !== undefined ? { epoch: s.epoch } : {}) });
      records += head.length;
      bytes += headBytes;
      weight += headWeight;
      this.#slices.set(id, s);
    }
    this.#records -= records;
    this.#bytes -= bytes;
    this.#weight -= weight;
    this.#ended = [...this.#slices.values()].some((s) => s.ended);
    // A flush asked for covers what is left too.
    this.#flushRequested = flushed;
    this.#release();
    return { slices, records, bytes, trigger, flushed: flushed && this.#records === 0 };
  }

  #full(): boolean {
    return this.#weight >= this.#maxBuffered || this.#records >= this.#maxBufferedRecords;
  }

  #release(): void {
    if (this.#full() && !this.#closed) return;
    const waiters = this.#spaceWaiters;
    this.#spaceWaiters = [];
    for (const w of waiters) w();
  }
}
