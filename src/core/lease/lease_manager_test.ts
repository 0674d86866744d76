import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock, type FakeClockOptions } from "../../adapters/memory/fake_clock.ts";
import { MemoryStore } from "../../adapters/memory/memory_store.ts";
import { ScriptedSource } from "../../adapters/memory/scripted_source.ts";
import { ShardStateStore } from "../shard_state/shard_state_store.ts";
import { LeaseLostError, LeaseManager, type LeaseOptions } from "./lease_manager.ts";

const LEASE_MS = 10_000;
const RENEW_MS = 3_000;

/** A store whose compare-and-swap writes can be made to lose, as if someone always wrote first. */
class RacingStore extends MemoryStore {
  refuse = false;
  refused = 0;
  /** While set, writes wait here (on their way to the store) until {@link releaseWrites}. */
  #waiting: (() => void)[] | undefined;
  override async putIfMatch(key: string, body: Uint8Array, etag: string | undefined): Promise<string | undefined> {
    if (this.refuse) {
      this.refused++;
      return undefined;
    }
    if (this.#waiting) await new Promise<void>((r) => this.#waiting!.push(r));
    return super.putIfMatch(key, body, etag);
  }
  holdWrites(): void {
    this.#waiting = [];
  }
  get writesOnTheirWay(): number {
    return this.#waiting?.length ?? 0;
  }
  releaseWrites(): void {
    const waiting = this.#waiting ?? [];
    this.#waiting = undefined;
    for (const w of waiting) w();
  }
}

/** A stream and the shard states that every worker shares. */
function world(shards: number) {
  const source = new ScriptedSource("orders", shards, new FakeClock());
  const store = new RacingStore("leases");
  const states = new ShardStateStore(store, "checkpoints/");
  return { source, store, states };
}

interface Worker {
  id: string;
  clock: FakeClock;
  leases: LeaseManager;
  acquired: string[];
  lost: string[];
}

/** A worker with its own clock (its own monotonic origin and wall time). */
function worker(w: ReturnType<typeof world>, id: string, clock: FakeClockOptions = {}, options: Partial<LeaseOptions> = {}): Worker {
  const acquired: string[] = [];
  const lost: string[] = [];
  const c = new FakeClock(clock);
  const leases = new LeaseManager(w.source, w.states, c, {
    acquired: (shardId) => acquired.push(shardId),
    lost: (shardId) => lost.push(shardId),
  }, { workerId: id, leaseDurationMs: LEASE_MS, renewIntervalMs: RENEW_MS, ...options });
  return { id, clock: c, leases, acquired, lost };
}

/** Moves every worker's clock: time passes for all alike, whatever each clock reads. */
function pass(workers: Worker[], ms: number): void {
  for (const w of workers) w.clock.tick(ms);
}

/** One lease round of each worker in turn, then a renew interval for all. */
async function rounds(workers: Worker[], n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (const w of workers) await w.leases.tick();
    pass(workers, RENEW_MS);
  }
}

async function owners(w: ReturnType<typeof world>): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const s of await w.source.listShards()) out.set(s.shardId, (await w.states.read(s.shardId))?.state.lease.owner ?? null);
  return out;
}

/** Every unfinished shard is held by exactly the worker its state names. */
async function assertConsistent(w: ReturnType<typeof world>, workers: Worker[]): Promise<void> {
  for (const [shardId, owner] of await owners(w)) {
    if ((await w.states.read(shardId))?.state.finished) continue;
    const holders = workers.filter((x) => x.leases.holds(shardId)).map((x) => x.id);
    assert.deepEqual(holders, owner === null ? [] : [owner], `shard ${shardId}: state says ${owner}, held by ${holders.join(", ") || "nobody"}`);
  }
}

const counts = (workers: Worker[]) => workers.map((x) => x.leases.heldShards().length);

test("a lease expires only after its counter stood still for the lease duration on the observer's monotonic clock", async () => {
  const w = world(1);
  // The owner's wall clock is 22 years behind; the observer's monotonic clock has another origin.
  const a = worker(w, "a", { wallMs: Date.UTC(2001, 0, 1), monoMs: 0 });
  const b = worker(w, "b", { wallMs: Date.UTC(2023, 10, 14), monoMs: 987_654 });
  const [shard] = w.source.openShards();
  await rounds([a, b], 20);
  assert.deepEqual([a.acquired, b.acquired], [[shard], []], "a renews: b never takes it, 60 s on");

  // a renews one last time and stops (a crash, a long pause); b sees that counter at its time t0.
  await a.leases.tick();
  await b.leases.tick();
  const t0 = b.clock.monoMs();
  pass([b], 5_000);
  b.clock.jump(365 * 86_400_000); // b's wall clock leaps a year: it judges leases by monotonic time
  await b.leases.tick();
  pass([b], LEASE_MS - 5_000);
  await b.leases.tick();
  assert.equal(b.clock.monoMs() - t0, LEASE_MS);
  assert.deepEqual(b.acquired, [], "not at exactly the lease duration");
  pass([b], 1);
  await b.leases.tick();
  assert.deepEqual(b.acquired, [shard], "taken once the counter stood still for longer than the lease duration");
  assert.equal((await owners(w)).get(shard!), "b");
});

test("a lease whose counter keeps moving is never taken, whatever the owner's wall clock says", async () => {
  const w = world(1);
  const a = worker(w, "a", { wallMs: 0 });
  const b = worker(w, "b");
  const [shard] = w.source.openShards();
  await a.leases.tick();
  for (let i = 0; i < 30; i++) {
    a.clock.jump(i % 2 === 0 ? 3_600_000 : -7_200_000); // an owner whose wall clock wanders
    await a.leases.tick();
    await b.leases.tick();
    pass([a, b], LEASE_MS - 1);
  }
  assert.deepEqual(b.acquired, []);
  assert.ok(a.leases.holds(shard!));
  assert.deepEqual(a.lost, []);
});

test("a second worker steals shards until both hold their fair share: 8 shards → 4 and 4", async () => {
  const w = world(8);
  const a = worker(w, "a");
  const b = worker(w, "b", { monoMs: 50_000 });
  await rounds([a], 1);
  assert.equal(a.acquired.length, 8, "alone, a takes every shard");
  // One shard a round: b has its share after four rounds, a notices at its next renewal.
  for (let i = 1; i <= 4; i++) {
    await rounds([a, b], 1);
    assert.equal(b.leases.heldShards().length, i, `round ${i}`);
  }
  await rounds([a, b], 10);
  assert.deepEqual(counts([a, b]), [4, 4]);
  assert.equal(b.acquired.length, 4, "nothing more was stolen back and forth");
  assert.deepEqual([...a.lost].sort(), [...b.acquired].sort(), "a was told of each shard b took");
  await assertConsistent(w, [a, b]);
});

test("three workers share 8 shards 3, 3 and 2, and stay so", async () => {
  const w = world(8);
  const a = worker(w, "a");
  const b = worker(w, "b", { monoMs: 1_000 });
  const c = worker(w, "c", { monoMs: 2_000 });
  await rounds([a], 1);
  await rounds([a, b, c], 10);
  assert.deepEqual(counts([a, b, c]).sort(), [2, 3, 3]);
  const stolen = b.acquired.length + c.acquired.length;
  await rounds([a, b, c], 20);
  assert.deepEqual(counts([a, b, c]).sort(), [2, 3, 3]);
  assert.equal(b.acquired.length + c.acquired.length + a.acquired.length - 8, stolen, "no more moves once balanced");
  await assertConsistent(w, [a, b, c]);
});

test("the children of a split shard are not taken before their parent is finished", async () => {
  const w = world(1);
  const a = worker(w, "a");
  const b = worker(w, "b");
  const [parent] = w.source.openShards();
  await rounds([a, b], 1);
  const children = w.source.split(parent!);
  a.leases.requestShardSync();
  b.leases.requestShardSync();
  await rounds([a, b], 10); // 30 s: past any lease duration
  assert.deepEqual(a.leases.heldShards(), [parent]);
  assert.deepEqual(b.leases.heldShards(), []);
  for (const child of children) assert.deepEqual((await w.states.read(child))?.state.parents, [parent], "the child's state names its parent");

  // a reads the parent to its end and commits it: finished.
  await a.leases.update(parent!, (s) => ({ ...s, finished: true }));
  a.leases.forget(parent!);
  await rounds([a, b], 1);
  const taken = await owners(w);
  for (const child of children) assert.notEqual(taken.get(child), null, `child ${child} taken in the next round`);
  await rounds([a, b], 5);
  assert.deepEqual(counts([a, b]), [1, 1]);
  await assertConsistent(w, [a, b]);
});

test("the child of a merge waits for both of its parents", async () => {
  const w = world(2);
  const a = worker(w, "a");
  const [left, right] = w.source.openShards();
  await rounds([a], 1);
  const child = w.source.merge(left!, right!);
  a.leases.requestShardSync();
  await a.leases.update(left!, (s) => ({ ...s, finished: true }));
  a.leases.forget(left!);
  await rounds([a], 5);
  assert.equal(a.leases.holds(child), false, "one parent is still being read");
  await a.leases.update(right!, (s) => ({ ...s, finished: true }));
  a.leases.forget(right!);
  await rounds([a], 1);
  assert.deepEqual(a.leases.heldShards(), [child]);
});

test("a shard forgotten while a renewal of it is on its way stays forgotten: its merge child is taken", async () => {
  const w = world(2);
  const a = worker(w, "a");
  const [left, right] = w.source.openShards();
  await rounds([a], 1);
  const child = w.source.merge(left!, right!);
  await a.leases.update(right!, (s) => ({ ...s, finished: true }));
  a.leases.forget(right!);
  await a.leases.update(left!, (s) => ({ ...s, finished: true }));
  // The round renews `left` (still held); its write is on its way when the reader, done
  // with the shard, forgets it.
  w.store.holdWrites();
  const round = a.leases.tick();
  for (let i = 0; i < 100 && w.store.writesOnTheirWay === 0; i++) await new Promise((r) => setTimeout(r, 0));
  assert.equal(w.store.writesOnTheirWay, 1, "the renewal of left is on its way");
  a.leases.forget(left!);
  w.store.releaseWrites();
  await round;
  assert.deepEqual(a.leases.heldShards(), [], "the renewal did not bring the finished shard back");
  a.leases.requestShardSync();
  await rounds([a], 1);
  assert.deepEqual(a.leases.heldShards(), [child], "the merge child is taken once both parents are finished");
});

test("shards given up on stop are taken by another worker at once, without waiting for them to expire", async () => {
  const w = world(4);
  const a = worker(w, "a");
  const b = worker(w, "b");
  await rounds([a], 1);
  await rounds([a, b], 1); // b steals its first shard while watching a's leases move
  await a.leases.tick(); // a notices
  assert.deepEqual(counts([a, b]), [3, 1]);
  const stolen = [...b.acquired];

  await a.leases.releaseAll();
  assert.deepEqual(a.leases.heldShards(), []);
  const after = await owners(w);
  for (const [shardId, owner] of after) assert.equal(owner, stolen.includes(shardId) ? "b" : null, `shard ${shardId}`);

  const at = b.clock.monoMs();
  await b.leases.tick();
  assert.equal(b.clock.monoMs(), at, "no time passed");
  assert.equal(b.leases.heldShards().length, 4, "b took the released shards in the same round");
  assert.deepEqual(a.lost, stolen, "a release is not a loss: a was told only of the shard b stole");
  await assertConsistent(w, [a, b]);
});

test("a renewal that finds the lease taken by another worker tells of the loss and fences later writes", async () => {
  const w = world(1);
  const a = worker(w, "a");
  const b = worker(w, "b");
  const [shard] = w.source.openShards();
  await rounds([a, b], 1);
  // a stalls (a long pause) while b watches the lease stand still, then takes it.
  for (let i = 0; i < 4; i++) {
    await b.leases.tick();
    pass([a, b], RENEW_MS);
  }
  assert.deepEqual(b.acquired, [shard]);
  assert.ok(a.leases.holds(shard!), "a does not know yet");

  const before = await w.states.read(shard!);
  await a.leases.tick();
  assert.deepEqual(a.lost, [shard]);
  assert.equal(a.leases.holds(shard!), false);
  await assert.rejects(a.leases.update(shard!, (s) => ({ ...s, batch: 99 })), (err) => err instanceof LeaseLostError && err.owner === null);
  assert.deepEqual(await w.states.read(shard!), before, "a wrote nothing");
  await rounds([a, b], 5);
  assert.deepEqual(a.lost, [shard], "told once");
  assert.deepEqual(counts([a, b]), [0, 1], "and a does not take it back while b renews");
});

test("a write racing with another of the same owner is applied to the state read again", async () => {
  const w = world(1);
  const a = worker(w, "a");
  const [shard] = w.source.openShards();
  await rounds([a], 1);
  // Someone writes the object behind a's back, the lease still a's.
  const current = (await w.states.read(shard!))!;
  await w.states.write({ ...current.state, batch: 7 }, current.etag, 0);
  const state = await a.leases.update(shard!, (s) => ({ ...s, batch: s.batch + 1 }));
  assert.equal(state.batch, 8);
  assert.equal((await w.states.read(shard!))?.state.batch, 8);
  assert.deepEqual(a.lost, []);
});

test("a write that keeps losing its compare-and-swap gives the lease up after the policy's attempts", async () => {
  const w = world(1);
  const a = worker(w, "a");
  const [shard] = w.source.openShards();
  await rounds([a], 1);
  w.store.refuse = true;
  const err = await a.leases.update(shard!, (s) => ({ ...s, batch: 1 })).catch((e: unknown) => e);
  assert.ok(err instanceof LeaseLostError, String(err));
  assert.equal(w.store.refused, 4, "POLICIES.shardStateCas: 4 attempts");
  assert.deepEqual(a.lost, [shard]);
  assert.equal(a.clock.monoMs(), RENEW_MS, "without pauses");
});

test("work started under an earlier take of a lease is refused, though the same worker holds the shard again", async () => {
  const w = world(1);
  const a = worker(w, "a");
  const b = worker(w, "b");
  await rounds([a], 1);
  const shardId = a.leases.heldShards()[0]!;
  const firstEpoch = a.leases.stateOf(shardId)!.lease.epoch!;
  // a pauses past its lease: b takes the shard; then b stops and a takes it back.
  await rounds([b], 1);
  pass([a, b], LEASE_MS + 1);
  await rounds([b], 1);
  assert.ok(b.leases.holds(shardId));
  await b.leases.releaseAll();
  await rounds([a], 2);
  assert.ok(a.leases.holds(shardId), "a holds the shard again");
  const epoch = a.leases.stateOf(shardId)!.lease.epoch!;
  assert.ok(epoch > firstEpoch, `a new epoch (${firstEpoch} → ${epoch})`);
  // A replay queued during a's first hold tries to move the shard's batch counter.
  await assert.rejects(a.leases.update(shardId, (s) => ({ ...s, batch: s.batch + 1 }), firstEpoch), LeaseLostError);
  assert.equal((await w.states.read(shardId))!.state.batch, 0, "the stale work changed nothing");
  await a.leases.update(shardId, (s) => ({ ...s, batch: s.batch + 1 }), epoch);
  assert.equal((await w.states.read(shardId))!.state.batch, 1, "work of the current epoch goes through");
});

test("two live processes given the same worker id are told apart, and the second is refused with the reason", async () => {
  const w = world(2);
  const first = worker(w, "same", {}, { instanceId: "process-1" });
  const second = worker(w, "same", {}, { instanceId: "process-2" });
  await rounds([first], 1);
  assert.equal(first.leases.heldShards().length, 2);
  // The second process's writes never pass for the first's: it holds nothing while the first renews.
  await assert.rejects(async () => {
    for (let i = 0; i < 3; i++) await rounds([first, second], 1);
  }, /Another running process uses the worker id 'same'/);
  assert.deepEqual(second.leases.heldShards(), []);
});

test("a restart under the same worker id takes over the crashed process's leases once they expire", async () => {
  const w = world(2);
  const crashed = worker(w, "same", {}, { instanceId: "before-crash" });
  await rounds([crashed], 1);
  const restarted = worker(w, "same", {}, { instanceId: "after-restart" });
  for (let i = 0; i < 5; i++) await rounds([restarted], 1);
  assert.equal(restarted.leases.heldShards().length, 2);
});

const STOP = {
  reason: "the stream no longer has the record the shard resumes at",
  at: "2026-01-01T00:00:00.000Z",
  by: "a",
  asked: { sequenceNumber: "1", subSequenceNumber: 0 },
  firstAvailable: "9",
};

test("a stopped shard is taken by no worker, released or expired, and every worker lists it as stopped", async () => {
  const w = world(2);
  const a = worker(w, "a");
  const b = worker(w, "b");
  await rounds([a], 1);
  const [gap, other] = w.source.openShards();
  await a.leases.update(gap!, (s) => ({ ...s, stopped: STOP }));
  assert.deepEqual([...a.leases.stoppedShards().keys()], [gap], "the holder lists it as soon as it wrote it");
  await a.leases.release(gap!);
  await rounds([a, b], 10); // 30 s: past any lease duration, both below their fair share
  assert.equal((await owners(w)).get(gap!), null, "nobody took it");
  assert.deepEqual([a.leases.holds(gap!), b.leases.holds(gap!)], [false, false]);
  for (const x of [a, b]) assert.deepEqual([...x.leases.stoppedShards()], [[gap, STOP]], `${x.id} lists it`);
  assert.ok(a.leases.holds(other!) || b.leases.holds(other!), "the other shard goes on");
  assert.equal(b.leases.undecided(), false, "a stopped shard keeps no run-once job waiting");

  // An operator's reset clears it: the next round takes it and nobody lists it any more.
  const v = (await w.states.read(gap!))!;
  await w.states.write({ ...v.state, stopped: null, restartAt: { type: "TRIM_HORIZON" } }, v.etag, 0);
  await rounds([a, b], 1);
  assert.ok(a.leases.holds(gap!) || b.leases.holds(gap!), "taken once reset");
  for (const x of [a, b]) assert.equal(x.leases.stoppedShards().size, 0);
});

test("the children of a stopped parent never start: per-key order would break", async () => {
  const w = world(1);
  const a = worker(w, "a");
  const [parent] = w.source.openShards();
  await rounds([a], 1);
  const children = w.source.split(parent!);
  a.leases.requestShardSync();
  await a.leases.update(parent!, (s) => ({ ...s, stopped: STOP }));
  await a.leases.release(parent!);
  await rounds([a], 10);
  assert.deepEqual(a.leases.heldShards(), [], "neither the stopped parent nor its children are taken");
  for (const child of children) assert.equal((await owners(w)).get(child), null, `${child} waits for its parent`);
});
