/**
 * What `/healthz` and `/readyz` answer, and the log lines of an outage, from the
 * supervisor's events.
 *
 * - **Liveness** (`/healthz`) fails only when restarting would help: the run loop has not
 *   finished a lease round for `stuckAfterMs`, or a batch commit has shown no sign of life
 *   (no attempt, no retry) for as long. An outage being waited out is not "stuck": every
 *   retry is a sign of life.
 * - **Readiness** (`/readyz`) says whether the data is flowing: `starting` until the first
 *   lease round succeeded, `degraded` while the store or the stream is failing (with
 *   what fails and since when) or a shard is further behind its tip than `readyMaxLagMs`.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Dependency } from "../core/retry/failure_kind.ts";
import type { OutageSite, UnavailableEvent } from "../engine/exactly_once.ts";
import type { SupervisorEvents } from "../engine/supervisor.ts";
import type { Clock } from "../ports/clock.ts";

export interface RunHealthOptions {
  clock: Clock;
  /** No lease round, or no sign of life from a running commit, for this long: not live. @default 300_000 */
  stuckAfterMs?: number;
  /** A shard further behind its tip than this: degraded. */
  readyMaxLagMs: number;
  /** How long a failed read keeps the source counted as failing, when no read has succeeded since. @default 30_000 */
  readFailureWindowMs?: number;
  /** What the dependencies are called in reasons and logs. */
  names?: Partial<Record<Dependency, string>>;
}

export interface HealthAnswer {
  ok: boolean;
  /** JSON body: `status`, `reasons` and details. */
  body: Record<string, unknown>;
}

/**
 * Liveness is measured from the last sign of life of the slowest part, not from the
 * last batch: a quiet stream commits nothing for hours and is perfectly live.
 * 5 minutes: above a lease round's worst legitimate length (a few calls, each under its
 * 90–120 s deadline) and a commit's longest pause between retries (30 s).
 */
const STUCK_AFTER_MS = 300_000;

export class RunHealth {
  readonly #clock: Clock;
  readonly #opts: Required<Omit<RunHealthOptions, "names">> & { names: Record<Dependency, string> };
  readonly #startedAt: number;
  #lastRoundAt: number;
  #roundOk = false;
  #commitSince: number | undefined;
  #lastCommitSign = 0;
  #lastCommitAt: number | undefined;
  readonly #failing = new Map<OutageSite, { since: number; dependency: Dependency | undefined; error: string }>();
  #readFailure: { at: number; shardId: string; error: string } | undefined;
  readonly #lag = new Map<string, number>();

  constructor(options: RunHealthOptions) {
    this.#clock = options.clock;
    this.#opts = {
      clock: options.clock,
      stuckAfterMs: options.stuckAfterMs ?? STUCK_AFTER_MS,
      readyMaxLagMs: options.readyMaxLagMs,
      readFailureWindowMs: options.readFailureWindowMs ?? 30_000,
      names: { store: "the tables' store", source: "the stream", ...options.names },
    };
    this.#startedAt = this.#lastRoundAt = this.#clock.monoMs();
  }

  /** The supervisor's events this model follows; merge them with the others. */
  events(): SupervisorEvents {
    const now = () => this.#clock.monoMs();
    return {
      leaseRound: (ok) => {
        this.#lastRoundAt = now();
        if (ok) this.#roundOk = true;
      },
      commitStarted: () => (this.#commitSince = this.#lastCommitSign = now()),
      commitRetry: () => (this.#lastCommitSign = now()),
      batchCommitted: () => {
        this.#commitSince = undefined;
        this.#lastCommitAt = now();
      },
      unavailable: (e) => {
        if (e.site === "commit" || e.site === "shard-state") this.#lastCommitSign = now();
        if (e.site === "start") this.#lastRoundAt = now();
        if (e.site === "read") return;
        const prev = this.#failing.get(e.site);
        this.#failing.set(e.site, { since: prev?.since ?? now() - e.failingForMs, dependency: e.dependency, error: message(e.error) });
      },
      recovered: (site) => this.#failing.delete(site),
      readRetry: (shardId, err) => {
        // Throttles and expired iterators are the normal life of a busy shard, not an outage.
        if (err.name === "ThrottledError" || err.name === "ExpiredIteratorError") return;
        this.#readFailure = { at: now(), shardId, error: err.message };
      },
      lag: (shardId, ms) => {
        this.#lag.set(shardId, ms);
        if (this.#readFailure?.shardId === shardId) this.#readFailure = undefined;
      },
      leaseLost: (shardId) => this.#lag.delete(shardId),
      shardFinished: (shardId) => this.#lag.delete(shardId),
    };
  }

  /** `/healthz`: whether the process makes progress (or is visibly waiting an outage out). */
  liveness(): HealthAnswer {
    const now = this.#clock.monoMs();
    const reasons: string[] = [];
    const sinceRound = now - this.#lastRoundAt;
    if (sinceRound > this.#opts.stuckAfterMs) reasons.push(`the run loop has not finished a lease round for ${secs(sinceRound)} s`);
    if (this.#commitSince !== undefined && now - this.#lastCommitSign > this.#opts.stuckAfterMs) {
      reasons.push(`a batch commit has shown no progress for ${secs(now - this.#lastCommitSign)} s`);
    }
    const ok = reasons.length === 0;
    return {
      ok,
      body: {
        status: ok ? "ok" : "stuck",
        ...(ok ? {} : { reasons }),
        uptimeSeconds: secs(now - this.#startedAt),
        lastLeaseRoundSecondsAgo: secs(sinceRound),
        ...(this.#lastCommitAt !== undefined ? { lastCommitSecondsAgo: secs(now - this.#lastCommitAt) } : {}),
      },
    };
  }

  /** `/readyz`: whether data flows: ready, starting, or degraded with the reasons. */
  readiness(): HealthAnswer {
    const now = this.#clock.monoMs();
    const reasons: string[] = [];
    for (const [site, f] of this.#failing) {
      reasons.push(`${this.#name(f.dependency)} failing for ${secs(now - f.since)} s (${siteWords(site)}): ${f.error}`);
    }
    if (this.#readFailure && now - this.#readFailure.at <= this.#opts.readFailureWindowMs) {
      reasons.push(`${this.#opts.names.source} failing (reading shard ${this.#readFailure.shardId}): ${this.#readFailure.error}`);
    }
    let maxLag = 0;
    for (const [shardId, ms] of this.#lag) {
      maxLag = Math.max(maxLag, ms);
      if (ms > this.#opts.readyMaxLagMs) reasons.push(`shard ${shardId} is ${secs(ms)} s behind the tip of the stream (READY_MAX_LAG ${secs(this.#opts.readyMaxLagMs)} s)`);
    }
    const status = reasons.length > 0 ? "degraded" : this.#roundOk ? "ready" : "starting";
    if (status === "starting") reasons.push("no lease round has succeeded yet");
    return {
      ok: status === "ready",
      body: { status, ...(reasons.length ? { reasons } : {}), shards: this.#lag.size, maxLagSeconds: secs(maxLag) },
    };
  }

  #name(d: Dependency | undefined): string {
    return d ? this.#opts.names[d] : "a dependency";
  }
}

/**
 * Outages in the log: a WARN when a part of the run first meets one (what fails, how long
 * the budget lets it be waited out), a WARN a minute while it lasts, an INFO when it ends.
 */
export function outageLog(log: Logger, clock: Clock, budgetMs: number, names: Partial<Record<Dependency, string>> = {}): SupervisorEvents {
  const name = (d: Dependency | undefined) => (d ? names[d] ?? (d === "store" ? "the tables' store" : "the stream") : "a dependency");
  const lastTold = new Map<string, number>();
  /** Per shard, since when its reads fail (until one succeeds). */
  const readsFailing = new Map<string, number>();
  // Plain functions, not methods: the hooks are called without their object.
  const unavailable = (e: UnavailableEvent) => {
    const key = e.site;
    const now = clock.monoMs();
    const told = lastTold.get(key);
    if (told !== undefined && now - told < 60_000) return;
    lastTold.set(key, now);
    const first = told === undefined;
    log.warn(
      first
        ? "{what} is unavailable ({site}): {error}. Retrying with backoff; the process waits up to {budget} s (OUTAGE_BUDGET) before it gives up."
        : "{what} is still unavailable ({site}) after {seconds} s: {error}. Giving up after {budget} s (OUTAGE_BUDGET).",
      { what: name(e.dependency), site: siteWords(e.site), error: message(e.error), seconds: secs(e.failingForMs), budget: secs(budgetMs) },
    );
  };
  const recovered = (site: OutageSite, failingForMs: number) => {
    if (!lastTold.delete(site)) return;
    log.info("Available again after {seconds} s ({site}); going on.", { seconds: secs(failingForMs), site: siteWords(site) });
  };
  return {
    unavailable,
    recovered,
    readRetry(shardId, err) {
      if (err.name === "ThrottledError" || err.name === "ExpiredIteratorError") return;
      const now = clock.monoMs();
      const since = readsFailing.get(shardId) ?? now;
      readsFailing.set(shardId, since);
      unavailable({ site: "read", dependency: "source", error: err, attempt: 0, failingForMs: now - since, delayMs: 0 });
    },
    lag(shardId) {
      const since = readsFailing.get(shardId);
      if (since === undefined) return;
      readsFailing.delete(shardId);
      if (readsFailing.size === 0) recovered("read", clock.monoMs() - since);
    },
  };
}

function siteWords(site: OutageSite): string {
  return { start: "starting up", commit: "committing a batch", "shard-state": "writing a shard state", "lease-round": "renewing and taking leases", read: "reading records" }[site];
}

function secs(ms: number): number {
  return Math.round(ms / 1000);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
