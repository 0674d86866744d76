import type { Intent, ShardState, Stopped } from "../core/shard_state/shard_state.ts";
import { comparePositions } from "../core/kinesis/position.ts";
import type { UserRecord } from "../core/kinesis/records.ts";
import { LeaseLostError } from "../core/lease/lease_manager.ts";
import { POLICIES } from "../core/retry/policies.ts";
import { retry, RetryExhaustedError, type RetryPolicy } from "../core/retry/retry.ts";
import { type Dependency, dependencyOf, isUnavailable, OutageError } from "../core/retry/failure_kind.ts";
import type { Clock } from "../ports/clock.ts";
import type { BatchSink, CommitBatch } from "./batch_sink.ts";
import type { FaultHook } from "./fault_point.ts";
import type { Batch } from "./micro_batcher.ts";

/** Where the protocol reads and writes shard states: the lease holder's compare-and-swap. */
export interface ShardStates {
  /** The state of a shard this worker holds, as last written or read. */
  stateOf(shardId: string): ShardState | undefined;
  /**
   * Changes a held shard's state by compare-and-swap, refused when the lease's epoch is no
   * longer `epoch`. @throws {LeaseLostError}
   */
  update(shardId: string, change: (s: ShardState) => ShardState, epoch?: number): Promise<ShardState>;
}

/**
 * A replay was handed other records than its intent recorded (some are no longer in the
 * stream). It is never committed: a part of a batch under the batch's txn version would
 * leave the tables that committed the whole batch and the others apart for good.
 */
export class IncompleteReplayError extends Error {
  override name = "IncompleteReplayError";
  constructor(readonly shardId: string, readonly intent: Intent, readonly found: number) {
    super(`Replaying batch ${intent.batch} of shard ${shardId} found ${found} of its ${intent.records} records; it is not committed in part`);
  }
}

/**
 * A shard state change the protocol refuses: it would overwrite another intent or move
 * the batch counter back. The shard leaves the batch; its owner replays what is recorded.
 */
export class StateRefusedError extends Error {
  override name = "StateRefusedError";
}

/** Where an outage was met: what the engine was doing when the store or the source failed. */
export type OutageSite = "start" | "commit" | "shard-state" | "lease-round" | "read";

/** A call that failed because the store or the source is unavailable, and will be tried again. */
export interface UnavailableEvent {
  site: OutageSite;
  dependency: Dependency | undefined;
  error: unknown;
  /** The attempt that failed, from 1. */
  attempt: number;
  /** Since the first failure of this call (or round), ms. */
  failingForMs: number;
  /** The pause before the next attempt, ms. */
  delayMs: number;
}

/** What the protocol reports; telemetry logs and counts it. */
export interface ExactlyOnceEvents {
  batchCommitted?(info: { records: number; bytes: number; shards: number; ms: number; trigger: Batch["trigger"] | "replay" }): void;
  /** A commit failed for a reason other than an outage and is tried again (up to the policy's attempts). */
  commitRetry?(err: unknown, attempt: number, delayMs: number): void;
  /** The store or the source failed; the call is tried again within the outage budget. */
  unavailable?(event: UnavailableEvent): void;
  /** A call that had met an outage succeeded again, after `failingForMs`. */
  recovered?(site: OutageSite, failingForMs: number): void;
  /**
   * A shard left a batch because its state refused the change (another intent is pending,
   * the batch counter moved): its records are read again from its state's position by its
   * next owner (this worker or another), after the pending intent is replayed.
   */
  shardLeftBatch?(shardId: string, reason: string): void;
  /** A shard was read to its end and all of it committed. */
  shardFinished?(shardId: string): void;
}

export interface ExactlyOnceOptions {
  /** The `txn.appId` of a shard in every table commit. */
  appId(shardId: string): string;
  fault?: FaultHook;
  events?: ExactlyOnceEvents;
  /** Random numbers for retry jitter. @default Math.random */
  random?: () => number;
  /** How a batch that fails to commit for a reason other than an outage is tried again. @default POLICIES.batchCommit */
  commitPolicy?: RetryPolicy;
  /**
   * How long a commit or a shard state write waits out an unavailable store before it
   * fails with an {@link OutageError}. @default Infinity
   */
  outageBudgetMs?: number;
}

/**
 * The exactly-once protocol: each batch is committed to the tables once, whatever point a
 * crash or a lost lease hits.
 *
 * 1. **Intent.** For every shard in the batch, its state gets `intent = {batch: n+1,
 *    first, last, records, ends, at}` by compare-and-swap, before any table is touched.
 *    A shard whose lease was lost leaves the batch.
 * 2. **Tables.** The sink commits the records; each table commit carries `txn(appId,
 *    n+1)` for each shard in it, and a table that holds a shard's txn gets nothing of it.
 * 3. **Advance.** Each shard's state moves to `batch = n+1`, `position = last`, intent
 *    cleared (and `finished` when the shard ended in the batch).
 *
 * A worker that takes a shard whose state has an intent replays exactly that range first
 * ({@link replay}), at the recorded time, so derived values come out the same. Commits run
 * one at a time: batches and replays never interleave.
 */
export class ExactlyOnce {
  readonly #states: ShardStates;
  readonly #sink: BatchSink;
  readonly #clock: Clock;
  readonly #opts: ExactlyOnceOptions;
  #lane: Promise<unknown> = Promise.resolve();

  constructor(states: ShardStates, sink: BatchSink, clock: Clock, options: ExactlyOnceOptions) {
    this.#states = states;
    this.#sink = sink;
    this.#clock = clock;
    this.#opts = options;
  }

  /** Commits a batch from the micro-batcher: intents, tables, advance. */
  commitBatch(batch: Batch): Promise<void> {
    return this.#inLane(() => this.#commitBatch(batch));
  }

  /**
   * Commits the records re-read for an intent found on taking a shard, as their own batch,
   * then advances the shard past it; `epoch` is the lease epoch the shard was taken under.
   * @throws {IncompleteReplayError} when the records are not all those of the intent
   *   (nothing is committed; the caller stops the shard).
   */
  replay(shardId: string, intent: Intent, records: UserRecord[], bytes: number, epoch: number): Promise<void> {
    return this.#inLane(async () => {
      const started = this.#clock.monoMs();
      if (records.length !== intent.records) throw new IncompleteReplayError(shardId, intent, records.length);
      if (records.length > 0) {
        await this.#commitWithRetry({
          shards: [{ shardId, appId: this.#opts.appId(shardId), batch: intent.batch, records, ...(intent.prepared ? { prepared: intent.prepared } : {}) }],
          replay: true,
          wallMs: intent.at,
          recordPrepared: (parameters) => this.#recordPrepared([{ shardId, intent, epoch }], parameters),
        });
      }
      await this.#advance(shardId, intent, epoch);
      this.#opts.events?.batchCommitted?.({ records: records.length, bytes, shards: 1, ms: this.#clock.monoMs() - started, trigger: "replay" });
    });
  }

  /**
   * Marks a held shard stopped (a gap in the stream: an operator decides where it goes on),
   * under the lease epoch the work started in and after every commit queued before it. An
   * intent stays as it is, for the operator to see; nothing of it is committed.
   * @returns false when the lease was lost first (the new owner meets the gap itself).
   */
  stop(shardId: string, stopped: Stopped, epoch: number): Promise<boolean> {
    return this.#inLane(() => this.#fenced(shardId, (s) => ({ ...s, stopped }), epoch));
  }

  /** Waits until every commit queued so far is done (failed or not). */
  async idle(): Promise<void> {
    await this.#lane.catch(() => {});
  }

  #inLane<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#lane.catch(() => {}).then(fn);
    this.#lane = next;
    return next;
  }

  async #commitBatch(batch: Batch): Promise<void> {
    const started = this.#clock.monoMs();
    const at = this.#clock.wallMs();
    const parts: { shardId: string; intent: Intent; records: UserRecord[]; epoch: number }[] = [];
    await Promise.all(batch.slices.map(async (given) => {
      let slice = given;
      const state = this.#states.stateOf(slice.shardId);
      if (!state) return;
      // The records were read under the lease epoch the slice carries; a later epoch fences them off.
      const epoch = slice.epoch ?? state.lease.epoch ?? 0;
      // Never commit a record at or before the shard's position (a late response of a
      // reader from before a lease was lost and taken again).
      if (state.position) {
        const pos = state.position;
        const fresh = slice.records.filter((r) => comparePositions(r, pos) > 0);
        if (fresh.length !== slice.records.length) slice = { ...slice, records: fresh };
      }
      if (slice.records.length === 0 && !slice.ended) return;
      const first = slice.records[0];
      const last = slice.records.at(-1);
      const intent: Intent = {
        batch: slice.records.length > 0 ? state.batch + 1 : state.batch,
        first: first ? { sequenceNumber: first.sequenceNumber, subSequenceNumber: first.subSequenceNumber } : null,
        last: last ? { sequenceNumber: last.sequenceNumber, subSequenceNumber: last.subSequenceNumber } : null,
        ends: slice.ended,
        records: slice.records.length,
        at,
        epoch,
      };
      const written = slice.records.length === 0 || await this.#fenced(slice.shardId, (s) => {
        // Our own intent, written by an attempt whose answer was lost: it stands.
        if (s.intent && sameIntent(s.intent, intent)) return s;
        if (s.intent) throw new StateRefusedError(`Shard ${s.shardId} has an intent (batch ${s.intent.batch}) not yet committed; it is never overwritten by another`);
        if (s.batch !== state.batch) throw new StateRefusedError(`Shard ${s.shardId} is at batch ${s.batch}, not ${state.batch} as this batch was formed on`);
        return { ...s, intent };
      }, epoch);
      if (written) parts.push({ shardId: slice.shardId, intent, records: slice.records, epoch });
    }));
    await this.#opts.fault?.("after-intents");
    const withRecords = parts.filter((p) => p.records.length > 0);
    if (withRecords.length > 0) {
      await this.#commitWithRetry({
        shards: withRecords.map((p) => ({ shardId: p.shardId, appId: this.#opts.appId(p.shardId), batch: p.intent.batch, records: p.records })),
        replay: false,
        wallMs: at,
        recordPrepared: (parameters) => this.#recordPrepared(withRecords, parameters),
      });
      await this.#opts.fault?.("after-commits");
    }
    for (const p of parts) {
      await this.#advance(p.shardId, p.intent, p.epoch);
      if (p !== parts.at(-1)) await this.#opts.fault?.("during-advance");
    }
    if (batch.records > 0 || parts.length > 0) {
      this.#opts.events?.batchCommitted?.({ records: batch.records, bytes: batch.bytes, shards: parts.length, ms: this.#clock.monoMs() - started, trigger: batch.trigger });
    }
  }

  /** Writes the prepare step's decision into each shard's intent (see {@link CommitBatch.recordPrepared}). */
  async #recordPrepared(parts: readonly { shardId: string; intent: Intent; epoch: number }[], parameters: Record<string, string>): Promise<void> {
    await Promise.all(parts.map((p) =>
      this.#fenced(p.shardId, (s) => {
        if (s.intent?.batch !== p.intent.batch) throw new StateRefusedError(`Shard ${p.shardId} has no intent for batch ${p.intent.batch} to record a decision in`);
        return { ...s, intent: { ...s.intent, prepared: parameters } };
      }, p.epoch)
    ));
  }

  /**
   * A shard state change under the lease epoch the work started in.
   * @returns false when it was fenced off: the lease was lost or taken again since
   *   (`LeaseLostError`), or the change would break the protocol's rules (`StateRefusedError`).
   */
  async #fenced(shardId: string, change: (s: ShardState) => ShardState, epoch: number): Promise<boolean> {
    try {
      // Every change is one the same worker can make twice (an attempt whose answer was
      // lost is seen again on the next read), so an unavailable store is simply waited out.
      await this.#outageRetry("shard-state", () => this.#states.update(shardId, change, epoch));
      return true;
    } catch (err) {
      if (err instanceof StateRefusedError) this.#opts.events?.shardLeftBatch?.(shardId, err.message);
      if (err instanceof LeaseLostError || err instanceof StateRefusedError) return false;
      throw err;
    }
  }

  /**
   * Commits to the tables: an unavailable store is waited out within the outage budget;
   * other failures are tried again as the commit policy says. A retry writes nothing twice:
   * the tables that hold the batch's txns skip it.
   */
  #commitWithRetry(batch: CommitBatch): Promise<void> {
    return retry(() => this.#outageRetry("commit", () => this.#sink.commit(batch)), this.#opts.commitPolicy ?? POLICIES.batchCommit, {
      clock: this.#clock,
      retriable: (err) => !(err instanceof OutageError) && !isUnavailable(err),
      ...(this.#opts.random ? { random: this.#opts.random } : {}),
      onRetry: (e) => this.#opts.events?.commitRetry?.(e.error, e.attempt, e.delayMs),
    });
  }

  /** Calls `fn` until the store stops being unavailable, within the outage budget. @throws {OutageError} past it. */
  async #outageRetry<T>(site: OutageSite, fn: () => Promise<T>): Promise<T> {
    let failingSince: number | undefined;
    try {
      const out = await retry(fn, { ...POLICIES.outage, budgetMs: this.#opts.outageBudgetMs ?? Infinity }, {
        clock: this.#clock,
        retriable: isUnavailable,
        ...(this.#opts.random ? { random: this.#opts.random } : {}),
        onRetry: (e) => {
          failingSince ??= this.#clock.monoMs() - e.failingForMs;
          this.#opts.events?.unavailable?.({ site, dependency: dependencyOf(e.error), error: e.error, attempt: e.attempt, failingForMs: e.failingForMs, delayMs: e.delayMs });
        },
      });
      if (failingSince !== undefined) this.#opts.events?.recovered?.(site, this.#clock.monoMs() - failingSince);
      return out;
    } catch (err) {
      if (err instanceof RetryExhaustedError) throw new OutageError(dependencyOf(err.cause), err.failingForMs, err.cause);
      throw err;
    }
  }

  /**
   * Moves a shard's state past a committed intent (the table commits are done), under the
   * lease epoch the work started in. The batch counter never goes back, and an intent
   * other than this one is never cleared.
   */
  async #advance(shardId: string, intent: Intent, epoch: number): Promise<void> {
    const advanced = await this.#fenced(shardId, (s) => {
      if (s.batch > intent.batch) throw new StateRefusedError(`Shard ${shardId} is at batch ${s.batch} already; not moving it back to ${intent.batch}`);
      if (s.intent && (s.intent.batch !== intent.batch || s.intent.last?.sequenceNumber !== intent.last?.sequenceNumber)) {
        throw new StateRefusedError(`Shard ${shardId} has another intent (batch ${s.intent.batch}); not clearing it`);
      }
      // A restart position an operator set is used once: the shard now has a position of its own.
      const restartAt = intent.last ? null : s.restartAt ?? null;
      return { ...s, batch: intent.batch, position: intent.last ?? s.position, intent: null, finished: s.finished || intent.ends, restartAt };
    }, epoch);
    // Not advanced: the new owner replays the intent; the tables' txns make that a no-op.
    if (advanced && intent.ends) this.#opts.events?.shardFinished?.(shardId);
  }
}

/** Whether two intents are the same one (the same batch of the same records, formed at the same time). */
function sameIntent(a: Intent, b: Intent): boolean {
  const pos = (p: Intent["first"]) => (p ? `${p.sequenceNumber}/${p.subSequenceNumber}` : "");
  return a.batch === b.batch && a.records === b.records && a.at === b.at && a.ends === b.ends && pos(a.first) === pos(b.first) && pos(a.last) === pos(b.last);
}
