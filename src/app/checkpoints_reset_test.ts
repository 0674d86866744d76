import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../adapters/memory/fake_clock.ts";
import { MemoryStore } from "../adapters/memory/memory_store.ts";
import { UsageError } from "../cli/args.ts";
import { newShardState, type ShardState } from "../core/shard_state/shard_state.ts";
import { ShardStateStore } from "../core/shard_state/shard_state_store.ts";
import { parseRestartPosition, resetCheckpoints, ResetRefusedError, type ResetRequest } from "./checkpoints_reset.ts";

const LEASE_MS = 10_000;
const STOPPED = { reason: "trimmed", at: "2026-01-01T00:00:00.000Z", by: "w1", asked: { sequenceNumber: "100", subSequenceNumber: 0 }, firstAvailable: "200" };

async function world(...states: Partial<ShardState>[]) {
  const clock = new FakeClock({ wallMs: Date.UTC(2026, 0, 1) });
  const store = new ShardStateStore(new MemoryStore("states"), "app/orders/shards/");
  for (const [i, s] of states.entries()) {
    await store.write({ ...newShardState("orders", `shard-${i}`, [], clock.wallMs()), ...s }, undefined, clock.wallMs());
  }
  const printed: string[] = [];
  const reset = (req: Partial<ResetRequest>, confirm?: (plan: string) => Promise<boolean>) =>
    clock.settle(resetCheckpoints(store, { shards: ["shard-0"], to: { type: "TRIM_HORIZON" }, leaseDurationMs: LEASE_MS, ...req }, {
      clock,
      print: (l) => printed.push(l),
      ...(confirm ? { confirm } : {}),
    }));
  const state = async (id = "shard-0") => (await store.read(id))!.state;
  return { clock, store, reset, state, printed };
}

test("a reset clears stopped and the intent, restarts where asked, frees the lease with a new epoch, and never moves the batch counter back", async () => {
  const intent = { batch: 8, first: { sequenceNumber: "150", subSequenceNumber: 0 }, last: { sequenceNumber: "190", subSequenceNumber: 2 }, ends: false, records: 41, at: 0, epoch: 3 };
  const w = await world({ batch: 7, position: { sequenceNumber: "140", subSequenceNumber: 0 }, intent, stopped: { ...STOPPED, intentBatch: 8 }, lease: { owner: null, counter: 9, epoch: 3 } });
  assert.deepEqual(await w.reset({ to: { type: "AT_TIMESTAMP", timestamp: "2026-01-02T00:00:00.000Z" } }), ["shard-0"]);
  const s = await w.state();
  assert.deepEqual(
    { stopped: s.stopped, intent: s.intent, restartAt: s.restartAt, batch: s.batch, position: s.position, lease: s.lease },
    { stopped: null, intent: null, restartAt: { type: "AT_TIMESTAMP", timestamp: "2026-01-02T00:00:00.000Z" }, batch: 8, position: intent.last, lease: { owner: null, counter: 10, epoch: 4 } },
  );
  assert.match(w.printed.join("\n"), /shard-0: reset; restarts at AT_TIMESTAMP 2026-01-02T00:00:00.000Z \(batch 8\)/);
});

test("the reset refuses while a lease on an affected shard is live, and changes nothing; --force takes it", async () => {
  const w = await world({ stopped: STOPPED, lease: { owner: "w9", counter: 4, epoch: 2 } });
  w.clock.tick(3_000);
  const before = await w.store.read("shard-0");
  await assert.rejects(w.reset({}), (err: Error) => err instanceof ResetRefusedError && /held by w9, renewed 3 s ago/.test(err.message) && /--force/.test(err.message));
  assert.equal((await w.store.read("shard-0"))!.etag, before!.etag, "nothing written");
  assert.equal(w.clock.monoMs(), 3_000, "a lease renewed within its duration is refused at once");
  assert.deepEqual(await w.reset({ force: true }), ["shard-0"]);
  assert.deepEqual((await w.state()).lease, { owner: null, counter: 5, epoch: 3 }, "the holder's later writes are refused");
});

test("an owner whose last write looks older than the lease duration is watched for one: renewed meanwhile, the reset refuses; not, it goes on", async () => {
  const renewing = await world({ lease: { owner: "w9", counter: 4, epoch: 2 } });
  renewing.clock.tick(60_000); // the holder's clock is a minute behind, or it died a minute ago
  void renewing.clock.sleep(LEASE_MS / 2).then(async () => {
    const v = (await renewing.store.read("shard-0"))!;
    await renewing.store.write({ ...v.state, lease: { ...v.state.lease, counter: v.state.lease.counter + 1 } }, v.etag, renewing.clock.wallMs() - 60_000);
  });
  await assert.rejects(renewing.reset({}), (err: Error) => err instanceof ResetRefusedError && /held by w9, renewed while watched/.test(err.message));
  assert.equal(renewing.clock.monoMs(), 60_000 + LEASE_MS, "watched for a lease duration");

  const dead = await world({ lease: { owner: "w9", counter: 4, epoch: 2 } });
  dead.clock.tick(60_000);
  assert.deepEqual(await dead.reset({}), ["shard-0"]);
  assert.match(dead.printed[0]!, /Watching shard-0 \(owner w9\) for 10 s/);
  assert.equal((await dead.state()).lease.owner, null);
});

test("the reset shows its plan and asks before writing; answering no changes nothing", async () => {
  const w = await world({ stopped: STOPPED });
  let plan = "";
  await assert.rejects(w.reset({}, (p) => ((plan = p), Promise.resolve(false))), /Not confirmed: nothing was changed/);
  assert.match(plan, /shard-0: batch 0, position none; STOPPED 2026-01-01T00:00:00.000Z: trimmed; → restarts at TRIM_HORIZON/);
  assert.deepEqual((await w.state()).stopped, STOPPED);
  assert.deepEqual(await w.reset({}, () => Promise.resolve(true)), ["shard-0"]);
});

test("--all resets every unfinished shard and leaves finished ones; a shard without a state, or finished, is refused by name", async () => {
  const w = await world({ stopped: STOPPED }, { finished: true }, {});
  assert.deepEqual(await w.reset({ shards: "all", to: { type: "LATEST" } }), ["shard-0", "shard-2"]);
  assert.deepEqual([(await w.state("shard-1")).restartAt ?? null, (await w.state("shard-2")).restartAt], [null, { type: "LATEST" }]);
  await assert.rejects(w.reset({ shards: ["shard-7"] }), /Shard shard-7 has no checkpoint under memory:\/\/states\/app\/orders\/shards\//);
  await assert.rejects(w.reset({ shards: ["shard-1"] }), /Shard shard-1 is finished/);
});

test("--to takes trim-horizon, latest or a time with its zone, and names what it expected otherwise", () => {
  assert.deepEqual(parseRestartPosition("trim-horizon"), { type: "TRIM_HORIZON" });
  assert.deepEqual(parseRestartPosition("TRIM_HORIZON"), { type: "TRIM_HORIZON" });
  assert.deepEqual(parseRestartPosition("latest"), { type: "LATEST" });
  assert.deepEqual(parseRestartPosition("2026-01-01T00:00:00Z"), { type: "AT_TIMESTAMP", timestamp: "2026-01-01T00:00:00.000Z" });
  assert.deepEqual(parseRestartPosition("2026-01-01T02:00+02:00"), { type: "AT_TIMESTAMP", timestamp: "2026-01-01T00:00:00.000Z" });
  for (const bad of ["yesterday", "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z"]) {
    assert.throws(() => parseRestartPosition(bad), (err: Error) => err instanceof UsageError && err.message.includes(`got '${bad}'`), bad);
  }
  assert.throws(() => parseRestartPosition(undefined), /needs '--to'/);
});
