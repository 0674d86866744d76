import { setImmediate } from "node:timers";
import type { Clock } from "../../ports/clock.ts";

/** Where a {@link FakeClock} starts. */
export interface FakeClockOptions {
  /** Wall-clock time at the start, ms since the epoch. @default 1_700_000_000_000 (2023-11-14) */
  wallMs?: number;
  /** Monotonic time at the start, ms. @default 0 */
  monoMs?: number;
}

/** How long {@link FakeClock.runAllAsync} and {@link FakeClock.settle} go on. */
export interface RunLimit {
  /** Timers fired at most before giving up: a loop that sleeps for ever never runs out. @default 100_000 */
  maxTimers?: number;
}

interface Timer {
  /** Monotonic time it is due at. */
  due: number;
  /** Order of creation: timers due at the same time fire first in, first out. */
  seq: number;
  fire(): void;
}

const DEFAULT_MAX_TIMERS = 100_000;

/**
 * A {@link Clock} for tests whose time moves only when the test says so, in the manner of
 * Deno std's `FakeTime` (without touching the global timers): `sleep` queues a timer on the
 * monotonic time, and `tick` / `tickAsync` / `next` / `runAllAsync` / `settle` advance the
 * time, firing the timers that fall due in order of due time, and first in, first out
 * among timers due at the same time. The `…Async` methods let promise continuations run
 * after each timer, so a loop that sleeps again inside the window is woken again in it.
 *
 * `tick` moves the wall clock and the monotonic clock together; `jump` moves the wall clock
 * alone (an NTP step, a badly set host), which fires nothing.
 *
 * A `sleep(0)` is a timer due now: it fires at the next `tick`/`tickAsync`/`next`, not by
 * itself, so a loop of zero sleeps cannot spin without the test driving it.
 *
 * @example
 * const clock = new FakeClock();
 * const done = clock.sleep(1_000).then(() => clock.monoMs());
 * await clock.tickAsync(1_000);
 * assert.equal(await done, 1_000);
 */
export class FakeClock implements Clock {
  #wall: number;
  #mono: number;
  #seq = 0;
  /** Pending timers, sorted by (due, seq). */
  #timers: Timer[] = [];

  constructor(options: FakeClockOptions = {}) {
    this.#wall = options.wallMs ?? 1_700_000_000_000;
    this.#mono = options.monoMs ?? 0;
  }

  /** Whole milliseconds, as `Date.now()` gives (the time itself may have moved by fractions). */
  wallMs(): number {
    return Math.floor(this.#wall);
  }

  monoMs(): number {
    return this.#mono;
  }

  /**
   * Resolves once the clock has been moved `ms` past now (a negative or NaN `ms` counts as
   * 0), or rejects with the signal's reason when it aborts first.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer: Timer = {
        due: this.#mono + (ms > 0 ? ms : 0),
        seq: this.#seq++,
        fire: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#remove(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#insert(timer);
    });
  }

  /** Timers waiting to fire (sleeps neither due and driven yet nor aborted). */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** The monotonic time the next timer is due at, or `undefined` when none is pending. */
  get nextDueMs(): number | undefined {
    return this.#timers[0]?.due;
  }

  /**
   * Moves both clocks `ms` forward, firing the timers that fall due, in order. Their
   * continuations run only after this returns (they are promise callbacks): a sleeper
   * that sleeps again is not woken within this call. Use {@link tickAsync} for that.
   * @throws {RangeError} when `ms` is negative or not finite.
   */
  tick(ms = 0): void {
    const target = this.#mono + checkMs("tick", ms);
    for (let t = this.#timers[0]; t && t.due <= target; t = this.#timers[0]) {
      this.#advanceTo(t.due);
      this.#timers.shift();
      t.fire();
    }
    this.#advanceTo(target);
  }

  /**
   * Lets pending promise continuations run, then moves both clocks `ms` forward, firing the
   * timers that fall due one at a time and letting continuations run after each, so that
   * timers set by the woken code within the window fire too.
   * @throws {RangeError} when `ms` is negative or not finite.
   */
  async tickAsync(ms = 0): Promise<void> {
    const target = this.#mono + checkMs("tickAsync", ms);
    await this.runMicrotasks();
    for (let t = this.#timers[0]; t && t.due <= target; t = this.#timers[0]) {
      this.#advanceTo(t.due);
      this.#timers.shift();
      t.fire();
      await this.runMicrotasks();
    }
    this.#advanceTo(target);
  }

  /**
   * Moves the time to the next timer's due time and fires the timers due then.
   * @returns whether there was a timer.
   */
  next(): boolean {
    const due = this.nextDueMs;
    if (due === undefined) return false;
    this.tick(Math.max(0, due - this.#mono));
    return true;
  }

  /** {@link next}, letting continuations run before and after. @returns whether there was a timer. */
  async nextAsync(): Promise<boolean> {
    await this.runMicrotasks();
    const due = this.nextDueMs;
    if (due === undefined) return false;
    await this.tickAsync(Math.max(0, due - this.#mono));
    return true;
  }

  /** Fires every timer pending now, in order (not those their continuations will set). */
  runAll(): void {
    const last = this.#timers.at(-1);
    if (last) this.tick(Math.max(0, last.due - this.#mono));
  }

  /**
   * Fires timers in order, letting continuations run after each, until none is pending.
   * @throws {Error} when more than `maxTimers` fired (something sleeps in a loop for ever).
   */
  async runAllAsync(limit: RunLimit = {}): Promise<void> {
    const max = limit.maxTimers ?? DEFAULT_MAX_TIMERS;
    for (let fired = 0; await this.nextAsync(); fired++) {
      if (fired >= max) throw new Error(`FakeClock.runAllAsync: timers still pending after ${max} were fired (at ${this.#mono} ms): a loop that never stops sleeping?`);
    }
  }

  /**
   * Drives the clock, timer after timer, until `promise` settles, and returns it: the way
   * to run code that sleeps on this clock to its end.
   * @throws {Error} when `promise` is still pending while no timer is left to wake it (it
   *   waits on something other than this clock), or after `maxTimers` timers.
   */
  async settle<T>(promise: Promise<T>, limit: RunLimit = {}): Promise<T> {
    const max = limit.maxTimers ?? DEFAULT_MAX_TIMERS;
    let settled = false;
    promise.then(() => (settled = true), () => (settled = true));
    await this.runMicrotasks();
    for (let fired = 0; !settled; fired++) {
      if (fired >= max) throw new Error(`FakeClock.settle: the promise is still pending after ${max} timers (at ${this.#mono} ms)`);
      if (!(await this.nextAsync()) && !settled) {
        throw new Error(`FakeClock.settle: the promise is still pending at ${this.#mono} ms and no timer is left to wake it`);
      }
    }
    return promise;
  }

  /**
   * Moves the wall clock alone by `ms` (negative: back), as an NTP step or an operator
   * would; the monotonic time stays and no timer fires.
   */
  jump(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`FakeClock.jump: ms must be a finite number: got ${ms}`);
    this.#wall += ms;
  }

  /** Lets every promise continuation queued now (and those they queue) run. */
  runMicrotasks(): Promise<void> {
    return new Promise<void>((resolve) => setImmediate(resolve));
  }

  #advanceTo(mono: number): void {
    if (mono <= this.#mono) return;
    this.#wall += mono - this.#mono;
    this.#mono = mono;
  }

  #insert(timer: Timer): void {
    // After every timer due at the same time or earlier: FIFO among equals.
    let lo = 0;
    let hi = this.#timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#timers[mid]!.due <= timer.due) lo = mid + 1;
      else hi = mid;
    }
    this.#timers.splice(lo, 0, timer);
  }

  #remove(timer: Timer): void {
    const i = this.#timers.indexOf(timer);
    if (i >= 0) this.#timers.splice(i, 1);
  }
}

function checkMs(method: string, ms: number): number {
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`FakeClock.${method}: ms must be a finite number of 0 or more: got ${ms}`);
  return ms;
}
