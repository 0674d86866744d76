import type { Clock } from "../../ports/clock.ts";

/**
 * How a failing call is tried again: exponential backoff with jitter, bounded by a number
 * of attempts and/or a total time budget. Every retry site names one of the policies in
 * `policies.ts`, where the numbers are explained.
 */
export interface RetryPolicy {
  /** A name for logs and metrics (`commit`, `s3`, `kinesis-read` …). */
  readonly name: string;
  /** Attempts in all, the first included; `Infinity` for no limit. */
  readonly attempts: number;
  /** Pause after the first failure, ms. */
  readonly initialDelayMs: number;
  /** Longest pause, ms. */
  readonly maxDelayMs: number;
  /** Each pause is the previous one times this. @default 2 */
  readonly multiplier?: number;
  /**
   * Fraction of each pause drawn at random: the pause is `d × (1 − jitter + 2 × jitter × r)`
   * for r in [0, 1), so many workers failing together do not retry together. @default 0.5
   */
  readonly jitter?: number;
  /**
   * Gives up once this long has passed since the first failure (on the clock's monotonic
   * time), whatever the attempts left: the outage budget. The last pause is shortened so
   * that one attempt is made as the budget ends. @default Infinity
   */
  readonly budgetMs?: number;
}

/** What a retry loop is told about each failure it will try again. */
export interface RetryEvent {
  policy: string;
  /** The attempt that just failed, from 1. */
  attempt: number;
  error: unknown;
  /** The pause before the next attempt, ms. */
  delayMs: number;
  /** Time since the first failure, ms. */
  failingForMs: number;
}

export interface RetryOptions {
  clock: Clock;
  /** Whether a failure may be retried; others are thrown at once. @default every error */
  retriable?: (err: unknown) => boolean;
  /** Random numbers in [0, 1) for the jitter; a seeded source in simulations. @default Math.random */
  random?: () => number;
  /** Aborting stops the loop: the pending pause rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called before each pause. */
  onRetry?: (event: RetryEvent) => void;
}

/** Raised when a policy's attempts or budget ran out; `cause` is the last failure. */
export class RetryExhaustedError extends Error {
  override name = "RetryExhaustedError";
  constructor(readonly policy: string, readonly attempts: number, readonly failingForMs: number, cause: unknown) {
    super(
      `Gave up after ${attempts} attempt(s) over ${Math.round(failingForMs / 1000)} s (retry policy '${policy}'): ` +
        (cause instanceof Error ? cause.message : String(cause)),
      { cause },
    );
  }
}

/** The pause after failed attempt `attempt` (from 1), before jitter. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * (policy.multiplier ?? 2) ** (attempt - 1));
}

/** The pause after failed attempt `attempt`, jitter included, for a random draw `r` in [0, 1). */
export function jitteredMs(policy: RetryPolicy, attempt: number, r: number): number {
  const j = policy.jitter ?? 0.5;
  return backoffMs(policy, attempt) * (1 - j + 2 * j * r);
}

/**
 * Calls `fn` until it succeeds, pausing on the clock between attempts as `policy` says
 * (a policy without pauses tries again at once). `fn` gets the attempt number (from 1).
 *
 * @throws the failure itself when it is not retriable, or the signal's reason when aborted.
 * @throws {RetryExhaustedError} when the attempts or the budget ran out.
 * @example
 * const body = await retry((n) => store.get(key), POLICIES.store, { clock, retriable: isTransient });
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, options: RetryOptions): Promise<T> {
  const { clock } = options;
  const random = options.random ?? Math.random;
  let firstFailureAt: number | undefined;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (options.retriable && !options.retriable(err)) throw err;
      const now = clock.monoMs();
      firstFailureAt ??= now;
      const failingForMs = now - firstFailureAt;
      const budgetMs = policy.budgetMs ?? Infinity;
      if (attempt >= policy.attempts || failingForMs >= budgetMs) {
        throw new RetryExhaustedError(policy.name, attempt, failingForMs, err);
      }
      // The last pause ends where the budget does: one more attempt at its very end.
      const delayMs = Math.min(jitteredMs(policy, attempt, random()), budgetMs - failingForMs);
      options.onRetry?.({ policy: policy.name, attempt, error: err, delayMs, failingForMs });
      // A pause of 0 is none: the next attempt starts at once, without waiting on the clock.
      if (delayMs > 0) await clock.sleep(delayMs, options.signal);
    }
  }
}
