import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../../adapters/memory/fake_clock.ts";
import { seededRandom } from "../../util/seeded_random.ts";
import { backoffMs, jitteredMs, retry, RetryExhaustedError, type RetryEvent, type RetryPolicy } from "./retry.ts";

class Flaky extends Error {
  override name = "Flaky";
}

/** A call that fails its first `failures` attempts (each with a new error) and records when it was made. */
function flaky(clock: FakeClock, failures: number) {
  const calledAt: number[] = [];
  const errors: Error[] = [];
  const fn = (attempt: number): Promise<string> => {
    calledAt.push(clock.monoMs());
    if (attempt <= failures) {
      const err = new Flaky(`failure ${attempt}`);
      errors.push(err);
      return Promise.reject(err);
    }
    return Promise.resolve(`ok after ${attempt}`);
  };
  return { fn, calledAt, errors };
}

const gaps = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]!);

test("pauses start at the initial delay and double up to the maximum", async () => {
  const clock = new FakeClock();
  const { fn, calledAt } = flaky(clock, 7);
  const policy: RetryPolicy = { name: "t", attempts: 10, initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0 };
  assert.equal(await clock.settle(retry(fn, policy, { clock })), "ok after 8");
  assert.deepEqual(gaps(calledAt), [100, 200, 400, 800, 1_000, 1_000, 1_000]);
});

test("the multiplier sets how fast pauses grow", async () => {
  const clock = new FakeClock();
  const { fn, calledAt } = flaky(clock, 5);
  const policy: RetryPolicy = { name: "t", attempts: 10, initialDelayMs: 10, maxDelayMs: 500, multiplier: 3, jitter: 0 };
  await clock.settle(retry(fn, policy, { clock }));
  assert.deepEqual(gaps(calledAt), [10, 30, 90, 270, 500]);
});

test("a pause is not taken early: the next attempt waits for the clock", async () => {
  const clock = new FakeClock();
  const { fn, calledAt } = flaky(clock, 1);
  const result = retry(fn, { name: "t", attempts: 3, initialDelayMs: 250, maxDelayMs: 250, jitter: 0 }, { clock });
  await clock.tickAsync(249);
  assert.equal(calledAt.length, 1);
  await clock.tickAsync(1);
  assert.equal(calledAt.length, 2);
  assert.equal(await result, "ok after 2");
});

test("with jitter each pause is d × (1 − j + 2 × j × r) for the policy's random draws", async () => {
  const clock = new FakeClock();
  const { fn, calledAt } = flaky(clock, 6);
  const policy: RetryPolicy = { name: "t", attempts: 10, initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0.5 };
  await clock.settle(retry(fn, policy, { clock, random: seededRandom(7) }));
  // The oracle: the same seed's draws, and the backoff written out by hand.
  const draws = seededRandom(7);
  const expected = [100, 200, 400, 800, 1_000, 1_000].map((d) => d * (0.5 + draws()));
  const actual = gaps(calledAt);
  assert.equal(actual.length, expected.length);
  actual.forEach((g, i) => assert.ok(Math.abs(g - expected[i]!) < 1e-6, `pause ${i + 1}: ${g} ms, expected ${expected[i]} ms`));
  assert.ok(actual.some((g, i) => g !== [100, 200, 400, 800, 1_000, 1_000][i]), "the jitter moved the pauses");
});

test("jittered pauses stay within the policy's bounds, reaching the lower one and never the upper", () => {
  const policy: RetryPolicy = { name: "t", attempts: Infinity, initialDelayMs: 1_000, maxDelayMs: 8_000, jitter: 0.2 };
  for (const seed of [1, 2, 3]) {
    const random = seededRandom(seed);
    for (let attempt = 1; attempt <= 200; attempt++) {
      const d = Math.min(8_000, 1_000 * 2 ** (attempt - 1));
      const ms = jitteredMs(policy, attempt, random());
      assert.ok(ms >= 0.8 * d && ms < 1.2 * d, `attempt ${attempt}: ${ms} ms outside [${0.8 * d}, ${1.2 * d})`);
    }
  }
  assert.equal(jitteredMs(policy, 1, 0), 800);
  const top = jitteredMs(policy, 1, 0.999_999);
  assert.ok(top < 1_200 && top > 1_199.99, `${top}`);
  assert.equal(jitteredMs(policy, 3, 0.5), 4_000);
  assert.equal(jitteredMs({ name: "t", attempts: 1, initialDelayMs: 1_000, maxDelayMs: 1_000 }, 1, 0), 500, "jitter defaults to 0.5");
});

test("backoffMs: initial × multiplier^(attempt − 1), capped at the maximum", () => {
  const p: RetryPolicy = { name: "t", attempts: 10, initialDelayMs: 50, maxDelayMs: 2_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffMs(p, n)), [50, 100, 200, 400, 800, 1_600, 2_000, 2_000]);
  assert.deepEqual([1, 2, 3].map((n) => backoffMs({ ...p, multiplier: 1.5 }, n)), [50, 75, 112.5]);
  assert.equal(backoffMs({ ...p, maxDelayMs: 10_000 }, 5_000), 10_000, "no overflow to NaN or Infinity far down the line");
});

test("running out of attempts raises RetryExhaustedError with the last failure as its cause", async () => {
  const clock = new FakeClock();
  const { fn, calledAt, errors } = flaky(clock, Infinity);
  const policy: RetryPolicy = { name: "four-tries", attempts: 4, initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0 };
  const err = await clock.settle(retry(fn, policy, { clock })).catch((e: unknown) => e);
  assert.ok(err instanceof RetryExhaustedError, String(err));
  assert.equal(err.name, "RetryExhaustedError");
  assert.equal(err.cause, errors[3], "the fourth failure");
  assert.equal(err.attempts, 4);
  assert.equal(err.policy, "four-tries");
  assert.equal(err.failingForMs, 700);
  assert.match(err.message, /4 attempt\(s\).*'four-tries'.*failure 4/);
  assert.deepEqual(calledAt, [0, 100, 300, 700], "no pause after the last attempt");
  assert.equal(clock.pendingTimers, 0);
});

test("a policy of one attempt does not retry", async () => {
  const clock = new FakeClock();
  const { fn, calledAt } = flaky(clock, 1);
  await assert.rejects(retry(fn, { name: "once", attempts: 1, initialDelayMs: 100, maxDelayMs: 100 }, { clock }), RetryExhaustedError);
  assert.equal(calledAt.length, 1);
});

test("the budget ends the retries with one last attempt as it runs out", async () => {
  const clock = new FakeClock();
  const { fn, calledAt, errors } = flaky(clock, Infinity);
  const policy: RetryPolicy = { name: "budget", attempts: Infinity, initialDelayMs: 100, maxDelayMs: 10_000, jitter: 0, budgetMs: 1_000 };
  const err = await clock.settle(retry(fn, policy, { clock })).catch((e: unknown) => e);
  // Failures at 0, 100, 300 and 700 ms; the pause of 800 ms is cut to 300, for a last attempt at 1,000 ms.
  assert.ok(err instanceof RetryExhaustedError);
  assert.deepEqual(calledAt, [0, 100, 300, 700, 1_000]);
  assert.equal(err.attempts, 5);
  assert.equal(err.failingForMs, 1_000);
  assert.equal(err.cause, errors.at(-1));
});

test("the budget counts from the first failure and includes the time spent in the calls", async () => {
  const clock = new FakeClock({ monoMs: 10_000 });
  const startedAt: number[] = [];
  const slow = async () => {
    startedAt.push(clock.monoMs());
    await clock.sleep(500);
    throw new Flaky("slow failure");
  };
  const policy: RetryPolicy = { name: "budget", attempts: Infinity, initialDelayMs: 100, maxDelayMs: 10_000, jitter: 0, budgetMs: 1_000 };
  const err = await clock.settle(retry(slow, policy, { clock })).catch((e: unknown) => e);
  // First failure at 10,500: pause 100; second at 11,100 (600 in, +200 = 800: fine); third at 11,800 (1,300 in).
  assert.ok(err instanceof RetryExhaustedError);
  assert.deepEqual(startedAt, [10_000, 10_600, 11_300]);
  assert.equal(err.failingForMs, 1_300);
});

test("an error the caller says is not retriable is thrown at once, as it is", async () => {
  const clock = new FakeClock();
  const fatal = new TypeError("access denied");
  let calls = 0;
  const events: RetryEvent[] = [];
  const fn = () => Promise.reject(++calls === 1 ? new Flaky("blip") : fatal);
  const policy: RetryPolicy = { name: "t", attempts: 10, initialDelayMs: 100, maxDelayMs: 100, jitter: 0 };
  const err = await clock.settle(retry(fn, policy, { clock, retriable: (e) => e instanceof Flaky, onRetry: (e) => events.push(e) })).catch((e: unknown) => e);
  assert.equal(err, fatal);
  assert.equal(calls, 2);
  assert.equal(events.length, 1);
  assert.equal(clock.monoMs(), 100);
});

test("aborting during a pause rejects with the signal's reason and makes no further attempt", async () => {
  const clock = new FakeClock();
  const { fn, calledAt } = flaky(clock, Infinity);
  const ctl = new AbortController();
  const result = retry(fn, { name: "t", attempts: 10, initialDelayMs: 1_000, maxDelayMs: 1_000, jitter: 0 }, { clock, signal: ctl.signal });
  await clock.tickAsync(500);
  assert.equal(clock.pendingTimers, 1, "pausing");
  const reason = new Error("shutting down");
  ctl.abort(reason);
  await assert.rejects(result, (e) => e === reason);
  assert.equal(clock.pendingTimers, 0);
  await clock.tickAsync(10_000);
  assert.equal(calledAt.length, 1);
});

test("an aborted signal stops before the first attempt, and a failure after the abort is not retried", async () => {
  const clock = new FakeClock();
  const reason = new Error("stopped");
  const policy: RetryPolicy = { name: "t", attempts: 10, initialDelayMs: 0, maxDelayMs: 0 };
  let calls = 0;
  await assert.rejects(retry(() => Promise.resolve(++calls), policy, { clock, signal: AbortSignal.abort(reason) }), (e) => e === reason);
  assert.equal(calls, 0);
  const ctl = new AbortController();
  const fn = () => {
    calls++;
    ctl.abort(reason);
    return Promise.reject(new Flaky("cut off"));
  };
  await assert.rejects(retry(fn, policy, { clock, signal: ctl.signal }), (e) => e === reason);
  assert.equal(calls, 1);
});

test("onRetry is told each failure it will retry, with the pause and the time failing so far", async () => {
  const clock = new FakeClock();
  const { fn, errors } = flaky(clock, 3);
  const events: RetryEvent[] = [];
  const policy: RetryPolicy = { name: "told", attempts: 5, initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0.5 };
  await clock.settle(retry(fn, policy, { clock, random: () => 0.75, onRetry: (e) => events.push(e) }));
  assert.deepEqual(events, [
    { policy: "told", attempt: 1, error: errors[0], delayMs: 125, failingForMs: 0 },
    { policy: "told", attempt: 2, error: errors[1], delayMs: 250, failingForMs: 125 },
    { policy: "told", attempt: 3, error: errors[2], delayMs: 500, failingForMs: 375 },
  ]);
});

test("onRetry is not called for the failure that exhausts the policy", async () => {
  const clock = new FakeClock();
  const { fn } = flaky(clock, Infinity);
  const events: RetryEvent[] = [];
  const policy: RetryPolicy = { name: "t", attempts: 3, initialDelayMs: 10, maxDelayMs: 10, jitter: 0 };
  await assert.rejects(clock.settle(retry(fn, policy, { clock, onRetry: (e) => events.push(e) })), RetryExhaustedError);
  assert.deepEqual(events.map((e) => e.attempt), [1, 2]);
});

test("a policy without pauses tries again at once, without waiting on the clock", async () => {
  const clock = new FakeClock();
  const { fn, calledAt } = flaky(clock, 5);
  const policy: RetryPolicy = { name: "no-pause", attempts: 10, initialDelayMs: 0, maxDelayMs: 0, jitter: 0 };
  assert.equal(await retry(fn, policy, { clock }), "ok after 6");
  assert.deepEqual(calledAt, [0, 0, 0, 0, 0, 0]);
  assert.equal(clock.pendingTimers, 0);
});
