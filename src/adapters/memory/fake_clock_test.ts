import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "./fake_clock.ts";

test("time stands still until the clock is told to move, and both clocks move together", async () => {
  const clock = new FakeClock({ wallMs: 5_000_000, monoMs: 100 });
  await clock.runMicrotasks();
  assert.equal(clock.wallMs(), 5_000_000);
  assert.equal(clock.monoMs(), 100);
  clock.tick(250);
  await clock.tickAsync(750);
  assert.equal(clock.wallMs(), 5_001_000);
  assert.equal(clock.monoMs(), 1_100);
});

test("a sleep resolves once the clock has moved its whole duration, not before", async () => {
  const clock = new FakeClock();
  let woke = false;
  const sleeping = clock.sleep(1_000).then(() => (woke = true));
  assert.equal(clock.pendingTimers, 1);
  assert.equal(clock.nextDueMs, 1_000);
  await clock.tickAsync(999);
  assert.equal(woke, false);
  await clock.tickAsync(1);
  assert.equal(woke, true);
  assert.equal(clock.pendingTimers, 0);
  await sleeping;
});

test("timers fire in order of due time, first in first out among timers due together", async () => {
  const clock = new FakeClock();
  const order: string[] = [];
  const sleeps = [
    clock.sleep(300).then(() => order.push("c@300")),
    clock.sleep(100).then(() => order.push("a@100")),
    clock.sleep(200).then(() => order.push("b1@200")),
    clock.sleep(200).then(() => order.push("b2@200")),
    clock.sleep(100).then(() => order.push("a2@100")),
    clock.sleep(200).then(() => order.push("b3@200")),
  ];
  await clock.tickAsync(1_000);
  await Promise.all(sleeps);
  assert.deepEqual(order, ["a@100", "a2@100", "b1@200", "b2@200", "b3@200", "c@300"]);
});

test("tickAsync wakes code that sleeps again within the window, each at its due time", async () => {
  const clock = new FakeClock();
  const wokeAt: number[] = [];
  const loop = (async () => {
    for (let i = 0; i < 5; i++) {
      await clock.sleep(100);
      wokeAt.push(clock.monoMs());
    }
  })();
  await clock.tickAsync(350);
  assert.deepEqual(wokeAt, [100, 200, 300]);
  assert.equal(clock.monoMs(), 350);
  await clock.tickAsync(150);
  assert.deepEqual(wokeAt, [100, 200, 300, 400, 500]);
  await loop;
});

test("tick fires the due timers but not those their continuations set", async () => {
  const clock = new FakeClock();
  const wokeAt: number[] = [];
  void (async () => {
    await clock.sleep(100);
    wokeAt.push(clock.monoMs());
    await clock.sleep(100);
    wokeAt.push(clock.monoMs());
  })();
  clock.tick(500);
  await clock.runMicrotasks();
  assert.deepEqual(wokeAt, [500], "woken after the tick, at the time it left");
  assert.equal(clock.pendingTimers, 1);
  assert.equal(clock.nextDueMs, 600);
  clock.tick(100);
  await clock.runMicrotasks();
  assert.deepEqual(wokeAt, [500, 600]);
});

test("a zero sleep fires at the next tick, not by itself", async () => {
  const clock = new FakeClock();
  let woke = false;
  void clock.sleep(0).then(() => (woke = true));
  void clock.sleep(-5);
  await clock.runMicrotasks();
  assert.equal(woke, false);
  assert.equal(clock.pendingTimers, 2);
  await clock.tickAsync(0);
  assert.equal(woke, true);
  assert.equal(clock.pendingTimers, 0);
  assert.equal(clock.monoMs(), 0);
});

test("next and nextAsync move to the next due time; runAll and runAllAsync empty the queue", async () => {
  const clock = new FakeClock();
  assert.equal(clock.next(), false, "nothing pending: time does not move");
  assert.equal(clock.monoMs(), 0);
  const fired: number[] = [];
  for (const ms of [50, 50, 20]) void clock.sleep(ms).then(() => fired.push(clock.monoMs()));
  assert.equal(clock.next(), true);
  assert.equal(clock.monoMs(), 20);
  assert.equal(await clock.nextAsync(), true);
  assert.equal(clock.monoMs(), 50);
  assert.equal(clock.pendingTimers, 0, "both timers due at 50 fired");
  await clock.runMicrotasks();
  assert.deepEqual(fired, [20, 50, 50], "the first timer's continuation ran when nextAsync let continuations run");

  for (const ms of [30, 10]) void clock.sleep(ms);
  clock.runAll();
  assert.equal(clock.monoMs(), 80);
  assert.equal(clock.pendingTimers, 0);

  const chain = (async () => {
    for (let i = 0; i < 10; i++) await clock.sleep(1_000);
    return clock.monoMs();
  })();
  await clock.runAllAsync();
  assert.equal(await chain, 10_080);
});

test("runAllAsync gives up on a loop that never stops sleeping", async () => {
  const clock = new FakeClock();
  const stop = new AbortController();
  const forever = (async () => {
    while (!stop.signal.aborted) await clock.sleep(10, stop.signal).catch(() => {});
  })();
  await assert.rejects(clock.runAllAsync({ maxTimers: 50 }), /after 50 were fired/);
  stop.abort();
  await forever;
});

test("settle drives the clock until the promise settles, and says when nothing can wake it", async () => {
  const clock = new FakeClock();
  const work = async () => {
    await clock.sleep(2_000);
    await clock.sleep(3_000);
    return clock.monoMs();
  };
  assert.equal(await clock.settle(work()), 5_000);
  await assert.rejects(clock.settle((async () => {
    await clock.sleep(10);
    throw new TypeError("boom");
  })()), TypeError, "a rejection comes through as it is");
  const never = new Promise<void>(() => {});
  await assert.rejects(clock.settle(never), /no timer is left to wake it/);
});

test("an aborted sleep rejects with the signal's reason and leaves no timer behind", async () => {
  const clock = new FakeClock();
  const ctl = new AbortController();
  const sleeping = clock.sleep(1_000, ctl.signal);
  void clock.sleep(2_000);
  assert.equal(clock.pendingTimers, 2);
  const reason = new Error("shutting down");
  ctl.abort(reason);
  await assert.rejects(sleeping, (err) => err === reason);
  assert.equal(clock.pendingTimers, 1);
  assert.equal(clock.nextDueMs, 2_000);

  await assert.rejects(clock.sleep(10, ctl.signal), (err) => err === reason, "already aborted: rejects at once");
  assert.equal(clock.pendingTimers, 1);
});

test("a sleep that fired ignores a later abort", async () => {
  const clock = new FakeClock();
  const ctl = new AbortController();
  const sleeping = clock.sleep(10, ctl.signal);
  await clock.tickAsync(10);
  ctl.abort();
  await sleeping;
  assert.equal(clock.pendingTimers, 0);
});

test("a wall-clock jump moves wall time alone and fires nothing", async () => {
  const clock = new FakeClock({ wallMs: 1_000_000 });
  let woke = false;
  void clock.sleep(100).then(() => (woke = true));
  clock.jump(86_400_000);
  clock.jump(-3_600_000);
  await clock.runMicrotasks();
  assert.equal(woke, false);
  assert.equal(clock.wallMs(), 1_000_000 + 86_400_000 - 3_600_000);
  assert.equal(clock.monoMs(), 0);
  await clock.tickAsync(100);
  assert.equal(woke, true);
  assert.equal(clock.wallMs(), 1_000_000 + 86_400_000 - 3_600_000 + 100);
});

test("moving the clock backwards or by a non-number is refused", async () => {
  const clock = new FakeClock();
  assert.throws(() => clock.tick(-1), RangeError);
  assert.throws(() => clock.tick(Number.NaN), RangeError);
  await assert.rejects(clock.tickAsync(Infinity), RangeError);
  assert.throws(() => clock.jump(Number.NaN), RangeError);
  assert.equal(clock.monoMs(), 0);
});
