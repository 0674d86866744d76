/**
 * A BatchSink for source tests that behaves like the Delta tables do: each shard's part
 * of a batch is written once per (appId, batch) (created only if absent, as a txn makes a
 * table skip a batch it holds), so replays and zombies never duplicate.
 */
import assert from "node:assert/strict";
import type { BatchSink, CommitBatch } from "../../src/engine/batch_sink.ts";
import type { ObjectStore } from "../../src/ports/object_store.ts";

export interface LoggedRecord {
  shardId: string;
  sequenceNumber: string;
  subSequenceNumber: number;
  partitionKey: string;
  data: string;
}

export interface LogEntry {
  appId: string;
  shardId: string;
  batch: number;
  worker: string;
  replay: boolean;
  /** Wall-clock ms and a per-process counter, to order commits. */
  at: number;
  order: number;
  records: LoggedRecord[];
}

let order = 0;

export class LogHandler implements BatchSink {
  /** Batches written, and batches skipped because they were already there. */
  written = 0;
  skipped = 0;
  /** Throws this error instead of (after, with `crashAfterWrite`) the commit of batch N (1-based count of calls). */
  crashOnCall: number | undefined;
  crashAfterWrite = false;
  #calls = 0;

  constructor(readonly store: ObjectStore, readonly worker: string) {}

  async commit(batch: CommitBatch): Promise<void> {
    this.#calls++;
    if (this.crashOnCall === this.#calls && !this.crashAfterWrite) throw new CrashError(this.#calls);
    const dec = new TextDecoder();
    for (const s of batch.shards) {
      const entry: LogEntry = {
        appId: s.appId, shardId: s.shardId, batch: s.batch, worker: this.worker, replay: batch.replay,
        at: Date.now(), order: ++order,
        records: s.records.map((r) => ({ shardId: s.shardId, sequenceNumber: r.sequenceNumber, subSequenceNumber: r.subSequenceNumber, partitionKey: r.partitionKey, data: dec.decode(r.data) })),
      };
      const key = `log/${encodeURIComponent(s.appId)}/${String(s.batch).padStart(10, "0")}.json`;
      if (await this.store.putIfAbsent(key, new TextEncoder().encode(JSON.stringify(entry)))) this.written++;
      else this.skipped++;
    }
    if (this.crashOnCall === this.#calls && this.crashAfterWrite) throw new CrashError(this.#calls);
  }
}

export class CrashError extends Error {
  override name = "CrashError";
  constructor(call: number) {
    super(`simulated crash at commit ${call}`);
  }
}

/** Every entry written, in commit order. */
export async function readLog(store: ObjectStore): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const m of store.list("log/")) out.push(JSON.parse(new TextDecoder().decode(await store.get(m.key))) as LogEntry);
  return out.sort((a, b) => a.at - b.at || a.order - b.order);
}

/**
 * Checks that every expected record (data `key:i`) was committed exactly once, nothing else
 * was, and the records of each key are in put order.
 */
export function checkExactlyOnce(entries: LogEntry[], expected: string[]): void {
  const seen = entries.flatMap((e) => e.records.map((r) => r.data));
  const counts = new Map<string, number>();
  for (const d of seen) counts.set(d, (counts.get(d) ?? 0) + 1);
  const dupes = [...counts].filter(([, n]) => n > 1).map(([d]) => d);
  assert.deepEqual(dupes, [], "no record committed twice");
  const missing = expected.filter((d) => !counts.has(d));
  const unexpected = [...counts.keys()].filter((d) => !expected.includes(d));
  assert.deepEqual({ missing, unexpected }, { missing: [], unexpected: [] }, "every record put is committed, and nothing else");
  const perKey = new Map<string, number[]>();
  for (const d of seen) {
    const [key, i] = d.split(":");
    perKey.set(key!, [...(perKey.get(key!) ?? []), Number(i)]);
  }
  for (const [key, xs] of perKey) assert.deepEqual(xs, [...xs].sort((a, b) => a - b), `records of ${key} in put order`);
}
