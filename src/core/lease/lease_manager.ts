import type { Clock } from "../../ports/clock.ts";
import type { RecordSource, ShardDescription } from "../../ports/record_source.ts";
import type { ShardStateStore, VersionedState } from "../shard_state/shard_state_store.ts";
import { newShardState, type ShardState, type Stopped } from "../shard_state/shard_state.ts";
import { POLICIES } from "../retry/policies.ts";
import { retry, RetryExhaustedError } from "../retry/retry.ts";

export interface LeaseOptions {
  /** This worker's name in the lease objects; unique per process. */
  workerId: string;
  /** A lease whose counter has not moved for this long (on the observer's clock) is taken over. @default 10_000 */
  leaseDurationMs?: number;
  /** How often held leases are renewed and the others looked at. @default leaseDurationMs / 3 */
  renewIntervalMs?: number;
  /** How often the stream's shard list is read again to find new shards. @default 30_000 */
  shardSyncIntervalMs?: number;
  /** Shards this worker holds at most. @default Infinity */
  maxLeases?: number;
  /** This process's instance id in the leases. @default a random UUID */
  instanceId?: string;
}

/** What the lease manager tells its owner. */
export interface LeaseEvents {
  /** This worker now holds the shard; `state` is the shard's state when taken. */
  acquired(shardId: string, state: ShardState): void;
  /** This worker no longer holds the shard: another worker took it. Stop reading it now. */
  lost(shardId: string): void;
}

/**
 * Another live process uses this worker's id: both would pass for the lease holder. Found
 * when a lease held under this id by another process instance keeps being renewed.
 */
export class DuplicateWorkerError extends Error {
  override name = "DuplicateWorkerError";
  constructor(readonly workerId: string, readonly shardId: string) {
    super(
      `Another running process uses the worker id '${workerId}' (it keeps renewing the lease of shard ${shardId}): ` +
        `give each instance its own WORKER_ID (or leave it unset for a generated one)`,
    );
  }
}

/** A write to a shard's state was refused because another worker holds its lease now. */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
  constructor(readonly shardId: string, readonly owner: string | null, readonly staleEpoch?: number) {
    super(
      staleEpoch !== undefined
        ? `Work on shard ${shardId} started under lease epoch ${staleEpoch}, which has ended (the lease was taken again since)`
        : `The lease of shard ${shardId} is held by ${owner ?? "nobody (released)"} now`,
    );
  }
}

/** A write of a held shard's state lost its compare-and-swap while the lease is still ours. */
class StaleStateError extends Error {
  override name = "StaleStateError";
  constructor(readonly shardId: string) {
    super(`The state of shard ${shardId} changed between its read and its write`);
  }
}

interface Observation {
  owner: string | null;
  counter: number;
  /** When this owner/counter pair was first seen, on the monotonic clock. */
  sinceMs: number;
  /** When this owner was first seen holding the shard. */
  ownerSinceMs: number;
}

/**
 * Shares a stream's shards among workers through lease fields in the shard state objects,
 * as the KCL does with its DynamoDB table: each shard is held by one worker, which renews
 * it by incrementing its counter (compare-and-swap); a lease whose counter does not move
 * for `leaseDurationMs` on the observer's own monotonic clock has expired and is taken
 * over; a worker below its fair share (shards / workers, rounded up) steals one shard a
 * round from a worker above it. A shard becomes eligible once its parents are finished.
 * A stopped shard (a gap in the stream, see {@link ShardState.stopped}) is never taken,
 * and its children never become eligible: it is not finished, and per-key order forbids
 * reading them before it.
 *
 * Every write of a held shard's state goes through {@link update}, which fails with
 * {@link LeaseLostError} when another worker took the lease: that is the fence that keeps
 * a worker that lost a shard from checkpointing it.
 */
export class LeaseManager {
  readonly workerId: string;
  readonly instanceId: string;
  readonly #source: RecordSource;
  readonly #states: ShardStateStore;
  readonly #clock: Clock;
  readonly #events: LeaseEvents;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  readonly #syncMs: number;
  readonly #maxLeases: number;
  readonly #held = new Map<string, VersionedState>();
  readonly #observed = new Map<string, Observation>();
  readonly #finished = new Set<string>();
  readonly #stopped = new Map<string, Stopped>();
  readonly #locks = new Map<string, Promise<unknown>>();
  #shards: ShardDescription[] = [];
  #lastSync = -Infinity;
  #syncRequested = false;

  constructor(source: RecordSource, states: ShardStateStore, clock: Clock, events: LeaseEvents, options: LeaseOptions) {
    this.#source = source;
    this.#states = states;
    this.#clock = clock;
    this.#events = events;
    this.workerId = options.workerId;
    this.instanceId = options.instanceId ?? crypto.randomUUID();
    this.#leaseMs = options.leaseDurationMs ?? 10_000;
    this.#renewMs = options.renewIntervalMs ?? Math.max(1, Math.floor(this.#leaseMs / 3));
    this.#syncMs = options.shardSyncIntervalMs ?? 30_000;
    this.#maxLeases = options.maxLeases ?? Infinity;
  }

  get renewIntervalMs(): number {
    return this.#renewMs;
  }

  /** The shards as last listed. */
  get shards(): readonly ShardDescription[] {
    return this.#shards;
  }

  heldShards(): string[] {
    return [...this.#held.keys()];
  }

  holds(shardId: string): boolean {
    return this.#held.has(shardId);
  }

  /** The state of a held shard as last written or read. */
  stateOf(shardId: string): ShardState | undefined {
    return this.#held.get(shardId)?.state;
  }

  /**
   * The shards found stopped: by the last round (whoever stopped them), and since by this
   * worker. A reset shard leaves the list at the next round.
   */
  stoppedShards(): ReadonlyMap<string, Stopped> {
    return this.#stopped;
  }

  /** Makes the next round list the shards again (a shard ended: its children appear). */
  requestShardSync(): void {
    this.#syncRequested = true;
  }

  /** Rounds until the signal aborts; each round renews, observes, takes and balances. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.tick();
      await this.#clock.sleep(this.#renewMs, signal).catch(() => {});
    }
  }

  /** One round. */
  async tick(): Promise<void> {
    const now = this.#clock.monoMs();
    if (this.#syncRequested || now - this.#lastSync >= this.#syncMs) {
      this.#syncRequested = false;
      this.#shards = await this.#source.listShards();
      this.#lastSync = now;
    }
    // Renew what we hold; look at everything else.
    const states = new Map<string, VersionedState>();
    await Promise.all(this.#shards.map(async (shard) => {
      if (this.#held.has(shard.shardId)) {
        try {
          await this.update(shard.shardId, (s) => ({ ...s, lease: { ...s.lease, counter: s.lease.counter + 1 } }));
          // Forgotten (finished) while the renewal was on its way: what the store holds now.
          const v = this.#held.get(shard.shardId) ?? await this.#states.read(shard.shardId);
          if (v) states.set(shard.shardId, v);
        } catch (err) {
          if (!(err instanceof LeaseLostError)) throw err;
        }
        return;
      }
      let v = await this.#states.read(shard.shardId);
      if (!v) {
        const parents = [shard.parentShardId, shard.adjacentParentShardId].filter((p): p is string => !!p);
        v = await this.#states.write(newShardState(this.#source.streamName, shard.shardId, parents, this.#clock.wallMs()), undefined, this.#clock.wallMs()) ??
          await this.#states.read(shard.shardId);
        if (!v) return;
      }
      states.set(shard.shardId, v);
      if (v.state.finished) this.#finished.add(shard.shardId);
      this.#observe(shard.shardId, v.state, now);
    }));
    this.#stopped.clear();
    for (const [id, v] of states) if (v.state.stopped) this.#stopped.set(id, v.state.stopped);
    await this.#takeAndBalance(states, now);
  }

  /**
   * Changes a held shard's state by compare-and-swap, one change at a time per shard.
   * @throws {LeaseLostError} when another worker holds the lease now (the shard is dropped).
   */
  update(shardId: string, change: (s: ShardState) => ShardState, epoch?: number): Promise<ShardState> {
    const prev = this.#locks.get(shardId) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.#update(shardId, change, epoch));
    this.#locks.set(shardId, next);
    return next;
  }

  async #update(shardId: string, change: (s: ShardState) => ShardState, epoch: number | undefined): Promise<ShardState> {
    // A lost compare-and-swap re-reads the object: while the lease is still ours the change
    // is applied to what was read and written again (policy shardStateCas); once it is
    // another worker's (or gone) the shard is dropped at once.
    const attempt = async (): Promise<ShardState> => {
      const held = this.#held.get(shardId);
      if (!held) throw new LeaseLostError(shardId, null);
      // Work started under an earlier take of this lease is fenced off, even though this
      // worker holds the shard again.
      if (epoch !== undefined && (held.state.lease.epoch ?? 0) !== epoch) throw new LeaseLostError(shardId, held.state.lease.owner, epoch);
      const written = await this.#states.write(change(held.state), held.etag, this.#clock.wallMs());
      if (written) {
        // A shard forgotten or released while this write was on its way stays so: held
        // again, a finished shard would count against this worker's share for good, and
        // the shards it must still take (a merge's child) would never be.
        if (this.#held.has(shardId)) this.#held.set(shardId, written);
        if (written.state.stopped) this.#stopped.set(shardId, written.state.stopped);
        return written.state;
      }
      const now = await this.#states.read(shardId);
      if (!now || !this.#ours(now.state)) {
        this.#drop(shardId);
        throw new LeaseLostError(shardId, now?.state.lease.owner ?? null);
      }
      if (!this.#held.has(shardId)) throw new LeaseLostError(shardId, this.workerId);
      this.#held.set(shardId, now);
      throw new StaleStateError(shardId);
    };
    try {
      return await retry(attempt, POLICIES.shardStateCas, { clock: this.#clock, retriable: (err) => err instanceof StaleStateError });
    } catch (err) {
      if (!(err instanceof RetryExhaustedError)) throw err;
      // Still ours on paper, but every write lost: treated as lost.
      this.#drop(shardId);
      throw new LeaseLostError(shardId, this.workerId);
    }
  }

  /** Whether a state's lease is this process's (worker id and instance). */
  #ours(s: ShardState): boolean {
    return s.lease.owner === this.workerId && (s.lease.instance === undefined || s.lease.instance === this.instanceId);
  }

  /** Stops renewing a shard this worker finished; its state stays as last written. */
  forget(shardId: string): void {
    this.#held.delete(shardId);
  }

  /** Gives a shard up (graceful shutdown): owner set to nobody, so others take it at once. */
  async release(shardId: string): Promise<void> {
    try {
      await this.update(shardId, (s) => ({ ...s, lease: { owner: null, counter: s.lease.counter + 1, epoch: s.lease.epoch ?? 0 } }));
    } catch (err) {
      if (!(err instanceof LeaseLostError)) throw err;
    }
    this.#held.delete(shardId);
  }

  async releaseAll(): Promise<void> {
    await Promise.all(this.heldShards().map((s) => this.release(s)));
  }

  #drop(shardId: string): void {
    if (this.#held.delete(shardId)) this.#events.lost(shardId);
  }

  #observe(shardId: string, s: ShardState, now: number): void {
    const o = this.#observed.get(shardId);
    // Our worker id under another process instance: a crashed predecessor's lease stands
    // still until it expires; one that moves belongs to a live process with our id.
    const twin = s.lease.owner === this.workerId && s.lease.instance !== undefined && s.lease.instance !== this.instanceId;
    if (twin && o && o.owner === s.lease.owner && o.counter !== s.lease.counter) throw new DuplicateWorkerError(this.workerId, shardId);
    if (!o || o.owner !== s.lease.owner || o.counter !== s.lease.counter) {
      const ownerSinceMs = o && o.owner === s.lease.owner ? o.ownerSinceMs : now;
      this.#observed.set(shardId, { owner: s.lease.owner, counter: s.lease.counter, sinceMs: now, ownerSinceMs });
    }
  }

  /**
   * Whether some unfinished shard is held by another worker that has not been watched for
   * a whole lease period yet: it may be dead (its lease will expire and be taken) or alive
   * (it renews). A run-once job waits for this to be settled before deciding it is done.
   */
  undecided(): boolean {
    const now = this.#clock.monoMs();
    for (const [shardId, o] of this.#observed) {
      if (this.#held.has(shardId) || o.owner === null || o.owner === this.workerId) continue;
      if (this.#finished.has(shardId) || this.#stopped.has(shardId)) continue;
      if (now - o.ownerSinceMs <= this.#leaseMs) return true;
    }
    return false;
  }

  #expired(shardId: string, s: ShardState, now: number): boolean {
    if (s.lease.owner === null) return true;
    const o = this.#observed.get(shardId);
    return !!o && now - o.sinceMs > this.#leaseMs;
  }

  async #takeAndBalance(states: Map<string, VersionedState>, now: number): Promise<void> {
    const listed = new Set(this.#shards.map((s) => s.shardId));
    // A stopped parent is not finished: its children wait for it, whatever else happens.
    const finished = (id: string) => !listed.has(id) || states.get(id)?.state.finished === true;
    const eligible = [...states.values()].filter((v) => !v.state.finished && !v.state.stopped && v.state.parents.every(finished));
    const counts = new Map<string, number>([[this.workerId, this.#held.size]]);
    for (const v of eligible) {
      const owner = v.state.lease.owner;
      if (owner && owner !== this.workerId && !this.#expired(v.state.shardId, v.state, now)) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    const target = Math.min(this.#maxLeases, Math.ceil(eligible.length / counts.size));
    const free = eligible.filter((v) => !this.#held.has(v.state.shardId) && this.#expired(v.state.shardId, v.state, now));
    // Parents first, so that a child never starts while its parent is still being read.
    for (const v of free) {
      if (this.#held.size >= target) break;
      await this.#take(v);
    }
    if (this.#held.size >= target) return;
    // Steal one shard a round from the busiest worker above its share.
    let victim: string | undefined;
    let most = target;
    for (const [owner, n] of counts) if (owner !== this.workerId && n > most) [victim, most] = [owner, n];
    if (!victim) return;
    const prey = eligible.find((v) => v.state.lease.owner === victim);
    if (prey) await this.#take(prey);
  }

  async #take(v: VersionedState): Promise<void> {
    const taken = await this.#states.write(
      { ...v.state, lease: { owner: this.workerId, counter: v.state.lease.counter + 1, epoch: (v.state.lease.epoch ?? 0) + 1, instance: this.instanceId } },
      v.etag,
      this.#clock.wallMs(),
    );
    if (!taken) return; // another worker was faster
    this.#held.set(v.state.shardId, taken);
    this.#events.acquired(v.state.shardId, taken.state);
  }
}
