/**
 * An in-memory stream for the pipeline benchmark that makes its records as they are read:
 * generated orders (a pool of 2,000, each served with fresh ids), so 200,000 records do
 * not sit in memory before the run and the figures are the pipeline's own. Either all
 * readable at once (throughput), or arriving at a given rate (latency).
 */
import { generateOrders } from "../../src/produce/order_generator.ts";
import type { IteratorPosition, ReadResult, RecordSource, ShardDescription } from "../../src/ports/record_source.ts";

const POOL = 2000;

/** A pool entry as bytes, with where the 12 varying digits of its two ids go. */
interface Template {
  bytes: Uint8Array;
  eventDigits: number;
  orderDigits: number;
}

const ID_PREFIX = "00000000-0000-4000-8000-";

export class GeneratedSource implements RecordSource {
  readonly streamName = "bench-orders";
  readonly #perShard: number;
  readonly #shards: number;
  readonly #pool: Template[];

  /** Orders per second over all shards when paced (records become readable at that rate). */
  readonly #rate: number | undefined;
  #startMs = 0;

  /**
   * @param rate when given, the stream is paced: record `k` of a shard arrives at the
   *   start (the first `listShards`) plus `k × shards / rate` seconds, is readable from then
   *   on, and carries that time as its `approximateArrivalTimestamp`.
   */
  constructor(total: number, shards: number, rate?: number) {
    this.#rate = rate;
    this.#shards = shards;
    this.#perShard = Math.ceil(total / shards);
    const enc = new TextEncoder();
    // Each pool order with ids of the final length, encoded once: a record is then a copy
    // with 24 digits written in (the generator must not weigh in the pipeline's figures).
    this.#pool = generateOrders(POOL, 5).map((o) => {
      const id = `${ID_PREFIX}${"0".repeat(12)}`;
      const bytes = enc.encode(JSON.stringify({ ...o, event_id: `ev-${id}`, order_id: `ord-${id}` }));
      const at = (key: string) => {
        const k = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf(`"${key}":"`);
        return k + key.length + 4 + (key === "event_id" ? 3 : 4) + ID_PREFIX.length;
      };
      return { bytes, eventDigits: at("event_id"), orderDigits: at("order_id") };
    });
  }

  /** The bytes of record `i` of `shard`. */
  record(shard: number, i: number): Uint8Array {
    const n = shard * this.#perShard + i;
    const t = this.#pool[n % POOL]!;
    const out = t.bytes.slice();
    for (let k = 11, x = n; k >= 0; k--, x = Math.floor(x / 10)) {
      const d = 48 + (x % 10);
      out[t.eventDigits + k] = d;
      out[t.orderDigits + k] = d;
    }
    return out;
  }

  listShards(): Promise<ShardDescription[]> {
    if (this.#startMs === 0) this.#startMs = Date.now();
    const width = 2n ** 128n / BigInt(this.#shards);
    return Promise.resolve(Array.from({ length: this.#shards }, (_, s) => ({
      shardId: `shardId-${String(s).padStart(12, "0")}`,
      hashKeyRange: { startingHashKey: String(width * BigInt(s)), endingHashKey: String(width * BigInt(s + 1) - 1n) },
    })));
  }

  getIterator(shardId: string, position: IteratorPosition): Promise<string> {
    const shard = Number(shardId.slice(-12));
    let index = 0;
    if (position.type === "AT_SEQUENCE_NUMBER") index = Number(BigInt(position.sequenceNumber) % 10_000_000n);
    if (position.type === "AFTER_SEQUENCE_NUMBER") index = Number(BigInt(position.sequenceNumber) % 10_000_000n) + 1;
    if (position.type === "LATEST") index = this.#perShard;
    return Promise.resolve(`${shard}:${index}`);
  }

  getRecords(iterator: string, limit: number): Promise<ReadResult> {
    const [shard, from] = iterator.split(":").map(Number) as [number, number];
    const rate = this.#rate;
    const arrived = rate === undefined ? this.#perShard : Math.floor(((Date.now() - this.#startMs) / 1000) * (rate / this.#shards)) + 1;
    const to = Math.min(this.#perShard, arrived, from + limit);
    const records = [];
    for (let i = from; i < to; i++) {
      const record = { data: this.record(shard, i), partitionKey: `k${i}`, sequenceNumber: String(BigInt(shard + 1) * 10n ** 30n + BigInt(i)) };
      records.push(rate === undefined ? record : { ...record, approximateArrivalTimestamp: new Date(this.#startMs + (i * this.#shards * 1000) / rate) });
    }
    // Behind while records that have arrived are left to read; paced, at the tip until the next arrives.
    return Promise.resolve({ records, nextIterator: `${shard}:${to}`, millisBehindLatest: to < Math.min(this.#perShard, arrived) ? 1000 : 0 });
  }
}
