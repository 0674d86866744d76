/**
 * Reproduction: a chunk read before a shard's lease was lost is delivered to the batcher
 * after `#loseShard` dropped the shard's slice; when the worker takes the shard again before
 * that slice is flushed, the stale records are committed a second time.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { KinesisSource } from "../../src/adapters/kinesis/kinesis_source.ts";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
import { systemClock } from "../../src/ports/clock.ts";
import type { RecordSource } from "../../src/ports/record_source.ts";
import { Supervisor } from "../../src/engine/supervisor.ts";
import { type KinesisLocal, startKinesisLocal } from "../helpers/kinesis_local.ts";
import { LogHandler, readLog } from "../helpers/log_handler.ts";
import { waitFor } from "../helpers/servers.ts";

let kinesis: KinesisLocal;
before(async () => (kinesis = await startKinesisLocal()));
after(() => kinesis?.stop());

test("records read just before a lease is lost are not committed twice when the shard is taken again", async () => {
  await kinesis.createStream("stale", 1);
  await kinesis.client.send(new PutRecordsCommand({
    StreamName: "stale",
    Records: Array.from({ length: 10 }, (_, i) => ({ PartitionKey: "k", Data: new TextEncoder().encode(`r${i}`) })),
  }));
  const inner = new KinesisSource("stale", kinesis.client);
  // The first GetRecords answer is held back, as if it arrived just as the lease was lost
  // (the body was already read, so the abort no longer cancels it).
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let calls = 0;
  const source: RecordSource = {
    streamName: inner.streamName,
    listShards: (s) => inner.listShards(s),
    getIterator: (id, p, s) => inner.getIterator(id, p, s),
    async getRecords(it, limit) {
      const res = await inner.getRecords(it, limit);
      if (++calls === 1) await gate;
      return res;
    },
  };
  const store = new MemoryStore();
  const states = new ShardStateStore(store, "checkpoints/");
  const sub = new Supervisor(source, states, systemClock, new LogHandler(store, "A"), {
    appName: "test",
    batch: { maxRecords: 1000, maxAgeMs: 2_000 },
    reader: { idleDelayMs: 20 },
    lease: { workerId: "A", leaseDurationMs: 400, renewIntervalMs: 100, shardSyncIntervalMs: 100 },
  });
  const ctl = new AbortController();
  const running = sub.run(ctl.signal);
  const shard = "shardId-000000000000";
  await waitFor("A holds the shard and waits for its first GetRecords", () => sub.leases.holds(shard) && calls === 1, 10_000);

  // Another worker takes the shard and gives it back (e.g. it stole it while balancing and was
  // then stopped): owner null, nothing committed yet.
  const v = (await states.read(shard))!;
  assert.ok(await states.write({ ...v.state, lease: { owner: null, counter: v.state.lease.counter + 1 } }, v.etag, Date.now()));
  await waitFor("A notices the lost lease", () => !sub.leases.holds(shard), 5_000);
  release(); // the read from before the loss now reaches the batcher
  await waitFor("A takes the shard again", () => sub.leases.holds(shard), 5_000);
  await waitFor("10 records committed", async () => (await readLog(store)).flatMap((e) => e.records).length >= 10, 10_000);
  await new Promise((r) => setTimeout(r, 500));
  ctl.abort();
  await running;
  for (const e of await readLog(store)) console.log(e.appId, "batch", e.batch, "replay", e.replay, e.records.map((r) => `${r.data}@${r.sequenceNumber.slice(-4)}`).join(" "));
  const data = (await readLog(store)).flatMap((e) => e.records.map((r) => r.data));
  assert.deepEqual(data, Array.from({ length: 10 }, (_, i) => `r${i}`), "each record committed once");
});
