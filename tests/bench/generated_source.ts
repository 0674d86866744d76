/**
 * An in-memory stream for the pipeline benchmark that makes its records as they are read:
 * generated orders (a pool of 2,000, each served with fresh ids), so 200,000 records do
 * not sit in memory before the run and the figures are the pipeline's own.
 */
import { generateOrders } from "../../src/produce/order_generator.ts";
import type { IteratorPosition, ReadResult, RecordSource, ShardDescription } from "../../src/ports/record_source.ts";

const POOL = 2000;

export class GeneratedSource implements RecordSource {
  readonly streamName = "bench-orders";
  readonly #perShard: number;
  readonly #shards: number;
  readonly #pool: string[];
  readonly #enc = new TextEncoder();

  constructor(total: number, shards: number) {
    this.#shards = shards;
    this.#perShard = Math.ceil(total / shards);
    this.#pool = generateOrders(POOL, 5).map((o) => JSON.stringify(o));
  }

  /** The bytes of record `i` of `shard`. */
  record(shard: number, i: number): Uint8Array {
    const n = shard * this.#perShard + i;
    const id = `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
    const json = this.#pool[n % POOL]!.replace(/"event_id":"ev-[^"]+"/, `"event_id":"ev-${id}"`).replace(/"order_id":"ord-[^"]+"/, `"order_id":"ord-${id}"`);
    return this.#enc.encode(json);
  }

  listShards(): Promise<ShardDescription[]> {
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
    const to = Math.min(this.#perShard, from + limit);
    const records = [];
    for (let i = from; i < to; i++) {
      records.push({ data: this.record(shard, i), partitionKey: `k${i}`, sequenceNumber: String(BigInt(shard + 1) * 10n ** 30n + BigInt(i)) });
    }
    return Promise.resolve({ records, nextIterator: `${shard}:${to}`, millisBehindLatest: to < this.#perShard ? 1000 : 0 });
  }
}
