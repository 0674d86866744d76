/**
 * The exactly-once protocol's own rules for shard states, each on its own (the lease
 * epoch is the same throughout, so only the rule under test can refuse): the batch counter
 * never goes back, and a pending intent is never overwritten by another.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../adapters/memory/fake_clock.ts";
import type { UserRecord } from "../core/kinesis/records.ts";
import { type Intent, newShardState, type ShardState } from "../core/shard_state/shard_state.ts";
import type { BatchSink, CommitBatch } from "./batch_sink.ts";
import { ExactlyOnce, type ShardStates } from "./exactly_once.ts";
import type { Batch } from "./micro_batcher.ts";

const EPOCH = 3;

/** One shard's state, held under {@link EPOCH}, changed by the protocol alone. */
class OneShard implements ShardStates {
  /** What `stateOf` answers when set: the holder's view, older than the stored state. */
  seen: ShardState | undefined;
  constructor(public state: ShardState) {}
  stateOf(): ShardState {
    return this.seen ?? this.state;
  }
  update(_shardId: string, change: (s: ShardState) => ShardState): Promise<ShardState> {
    this.state = change(this.state);
    return Promise.resolve(this.state);
  }
}

class RecordingSink implements BatchSink {
  readonly commits: CommitBatch[] = [];
  commit(batch: CommitBatch): Promise<void> {
    this.commits.push(batch);
    return Promise.resolve();
  }
}

function record(seq: number): UserRecord {
  return { sequenceNumber: String(seq), subSequenceNumber: 0, partitionKey: "k", data: new Uint8Array([1]), approximateArrivalTimestamp: new Date(0), aggregated: false } as UserRecord;
}

function setup(change: Partial<ShardState>) {
  const states = new OneShard({ ...newShardState("s", "shard-0", [], 0), lease: { owner: "w", counter: 1, epoch: EPOCH }, ...change });
  const sink = new RecordingSink();
  const left: string[] = [];
  const protocol = new ExactlyOnce(states, sink, new FakeClock(), { appId: (id) => `app/${id}`, events: { shardLeftBatch: (_id, reason) => left.push(reason) } });
  return { states, sink, left, protocol };
}

function batchOf(records: UserRecord[]): Batch {
  return { slices: [{ shardId: "shard-0", records, bytes: records.length, weight: records.length, ended: false, millisBehindLatest: 0, epoch: EPOCH }], records: records.length, bytes: records.length, trigger: "records", flushed: false };
}

test("a replay of an earlier batch, finishing after the shard moved on, never moves the batch counter back", async () => {
  // The shard was at batch 2 with this intent; its next hold replayed it and went on to 5.
  const stale: Intent = { batch: 3, first: { sequenceNumber: "30", subSequenceNumber: 0 }, last: { sequenceNumber: "31", subSequenceNumber: 0 }, ends: false, records: 2, at: 0, epoch: EPOCH };
  const w = setup({ batch: 5, position: { sequenceNumber: "80", subSequenceNumber: 0 } });
  await w.protocol.replay("shard-0", stale, [record(30), record(31)], 2, EPOCH);
  assert.equal(w.states.state.batch, 5, "the counter stays at 5");
  assert.equal(w.states.state.position?.sequenceNumber, "80", "and the position where it was");
  assert.match(w.left[0] ?? "", /at batch 5 already; not moving it back to 3/);
});

test("a batch never overwrites a pending intent of another batch: the shard leaves it, the intent stays for its replay", async () => {
  const pending: Intent = { batch: 4, first: { sequenceNumber: "40", subSequenceNumber: 0 }, last: { sequenceNumber: "45", subSequenceNumber: 0 }, ends: false, records: 6, at: 0, epoch: EPOCH };
  const w = setup({ batch: 3, intent: pending });
  await w.protocol.commitBatch(batchOf([record(50), record(51)]));
  assert.deepEqual(w.states.state.intent, pending, "the pending intent is untouched");
  assert.equal(w.states.state.batch, 3);
  assert.equal(w.sink.commits.length, 0, "nothing of the shard reaches the tables");
  assert.match(w.left[0] ?? "", /has an intent \(batch 4\) not yet committed/);
});

test("a batch formed on an older state (the counter moved meanwhile) leaves the shard, and nothing is written under a used batch number", async () => {
  const w = setup({ batch: 4 });
  // The batch is formed on the state as this worker last saw it, at batch 3; another commit
  // of the shard has advanced it to 4 since.
  w.states.seen = { ...w.states.state, batch: 3 };
  await w.protocol.commitBatch(batchOf([record(60)]));
  assert.equal(w.sink.commits.length, 0);
  assert.equal(w.states.state.intent, null);
  assert.match(w.left[0] ?? "", /at batch 4, not 3 as this batch was formed on/);
});

test("an ordinary batch: intent, one commit under batch n+1, then the counter and position advance", async () => {
  const w = setup({ batch: 3 });
  await w.protocol.commitBatch(batchOf([record(70), record(71)]));
  assert.deepEqual(w.sink.commits.map((c) => c.shards.map((s) => [s.appId, s.batch, s.records.length])), [[["app/shard-0", 4, 2]]]);
  assert.equal(w.states.state.batch, 4);
  assert.equal(w.states.state.position?.sequenceNumber, "71");
  assert.equal(w.states.state.intent, null);
  assert.deepEqual(w.left, []);
});
