/**
 * `data-subscriber checkpoints reset`: an operator's decision about where shards go on,
 * after a gap in the stream stopped them (or to skip ahead on purpose).
 * @module
 */
import { openStore } from "../adapters/open_store.ts";
import { s3Config } from "../adapters/aws_clients.ts";
import { joinUri, type Settings } from "../config/settings.ts";
import { UsageError } from "../cli/args.ts";
import { describeRestart, resetShardState } from "../core/shard_state/shard_reset.ts";
import type { RestartPosition, ShardState } from "../core/shard_state/shard_state.ts";
import { ShardStateStore, type VersionedState } from "../core/shard_state/shard_state_store.ts";
import type { Clock } from "../ports/clock.ts";

/** What to reset, and how careful to be. */
export interface ResetRequest {
  /** The shards to reset, or `"all"`: every shard that has a state (finished ones are left alone). */
  shards: readonly string[] | "all";
  /** Where they restart. */
  to: RestartPosition;
  /** Reset even while a worker holds an affected shard's lease: its work in progress is then refused. @default false */
  force?: boolean;
  /** The subscribers' LEASE_DURATION: a lease renewed within it is live. */
  leaseDurationMs: number;
}

export interface ResetDeps {
  clock: Clock;
  /** Shows the plan and asks the operator; absent: already confirmed (`--yes`). */
  confirm?: (plan: string) => Promise<boolean>;
  /** Prints a line for the operator. */
  print: (line: string) => void;
}

/** The reset was refused or could not be done in full; the message says why and what to do. */
export class ResetRefusedError extends Error {
  override name = "ResetRefusedError";
}

/**
 * Parses `--to`: `trim-horizon`, `latest` or an ISO-8601 time with a date and a time.
 * @throws {UsageError} naming what was expected and what was given.
 */
export function parseRestartPosition(raw: string | undefined): RestartPosition {
  if (raw === undefined) throw new UsageError("'checkpoints reset' needs '--to': trim-horizon, latest or a time like 2026-01-01T00:00:00Z (see 'checkpoints reset --help')");
  const word = raw.trim().toLowerCase().replace(/_/g, "-");
  if (word === "trim-horizon") return { type: "TRIM_HORIZON" };
  if (word === "latest") return { type: "LATEST" };
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(raw.trim()) ? Date.parse(raw.trim()) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`'--to' must be trim-horizon, latest or a time with its zone like 2026-01-01T00:00:00Z: got '${raw}'`);
  return { type: "AT_TIMESTAMP", timestamp: new Date(ms).toISOString() };
}

/** The shard states of the stream `settings` names, where the subscribers keep them. */
export function shardStates(settings: Settings): ShardStateStore {
  if (!settings.stream) throw new UsageError("'checkpoints reset' needs the stream: set STREAM_NAME, --stream or [default] STREAM_NAME in the config file");
  return new ShardStateStore(openStore(settings.checkpointsRoot, s3Config(settings)), joinUri(settings.appName, settings.stream, "shards") + "/");
}

/**
 * Resets shards' states: clears `stopped` and the intent, sets where each restarts (once),
 * frees the lease and moves its epoch on; the batch counter never goes back (see
 * {@link resetShardState}). Refuses while a lease on an affected shard is live — renewed
 * within the lease duration: judged by its last write's time, and, for an owner whose last
 * write looks older, by watching the state for a lease duration — unless `force`.
 * Every write is a compare-and-swap on the state as read: a shard that changed meanwhile
 * is not reset.
 * @returns the shards reset.
 * @throws {ResetRefusedError} when nothing could be reset safely, the operator said no, or
 *   a shard changed while this ran.
 */
export async function resetCheckpoints(states: ShardStateStore, req: ResetRequest, deps: ResetDeps): Promise<string[]> {
  const where = `${states.store.url}/${states.prefix}`;
  const ids = req.shards === "all" ? await states.shardIds() : [...new Set(req.shards)];
  if (ids.length === 0) throw new ResetRefusedError(`No shard checkpoints under ${where}: nothing to reset (check STREAM_NAME, APP_NAME and CHECKPOINTS_ROOT)`);
  const read = new Map<string, VersionedState>();
  for (const id of ids) {
    const v = await states.read(id);
    if (!v) throw new ResetRefusedError(`Shard ${id} has no checkpoint under ${where}: nothing to reset (a shard without one starts at INITIAL_POSITION)`);
    if (v.state.finished) {
      if (req.shards !== "all") throw new ResetRefusedError(`Shard ${id} is finished (read to its end and committed): there is nothing to reset`);
      deps.print(`${id}: finished; left as it is.`);
      continue;
    }
    read.set(id, v);
  }
  if (read.size === 0) throw new ResetRefusedError(`Every shard under ${where} is finished: nothing to reset`);
  if (!req.force) await refuseLiveLeases(states, read, req.leaseDurationMs, deps);

  const plan = [...read.values()].map((v) => planLine(v.state, req.to));
  if (deps.confirm && !(await deps.confirm(plan.join("\n")))) throw new ResetRefusedError("Not confirmed: nothing was changed");
  const reset: string[] = [];
  const changed: string[] = [];
  for (const [id, v] of read) {
    const written = await states.write(resetShardState(v.state, req.to), v.etag, deps.clock.wallMs());
    if (!written) {
      changed.push(id);
      continue;
    }
    reset.push(id);
    deps.print(`${id}: reset; restarts at ${describeRestart(req.to)} (batch ${written.state.batch}).`);
  }
  if (changed.length > 0) {
    throw new ResetRefusedError(`Shard(s) ${changed.join(", ")} changed while this ran (a worker wrote the state): not reset${reset.length ? ` (the others were)` : ""}; run the command again`);
  }
  return reset;
}

/** What the reset does to one shard, in a line. */
function planLine(s: ShardState, to: RestartPosition): string {
  const pos = (p: { sequenceNumber: string; subSequenceNumber: number } | null | undefined) => (p ? `${p.sequenceNumber}/${p.subSequenceNumber}` : "none");
  const bits = [`${s.shardId}: batch ${s.batch}, position ${pos(s.position)}`];
  if (s.stopped) bits.push(`STOPPED ${s.stopped.at}: ${s.stopped.reason}`);
  if (s.intent) {
    bits.push(`the intent of batch ${s.intent.batch} (${s.intent.records} records, ${pos(s.intent.first)} to ${pos(s.intent.last)}) is dropped: ` +
      `the tables that committed that batch keep it, the others never get its records`);
  }
  bits.push(`→ restarts at ${describeRestart(to)}${s.lease.owner ? `, taken from ${s.lease.owner}` : ""}`);
  return bits.join("; ");
}

/**
 * Refuses when a lease on one of the shards is live. A lease is free when it has no owner;
 * live when its state was written within the lease duration (by the holder's clock, as
 * written); otherwise its state is read again a lease duration later, and a lease whose
 * state moved meanwhile is live (the holder renews it: its clock was behind).
 */
async function refuseLiveLeases(states: ShardStateStore, read: Map<string, VersionedState>, leaseMs: number, deps: ResetDeps): Promise<void> {
  const live: string[] = [];
  const unsure: VersionedState[] = [];
  const now = deps.clock.wallMs();
  for (const v of read.values()) {
    const s = v.state;
    if (s.lease.owner === null) continue;
    const ageMs = now - Date.parse(s.updatedAt);
    if (ageMs < leaseMs) live.push(`${s.shardId} (held by ${s.lease.owner}, renewed ${Math.max(0, Math.round(ageMs / 1000))} s ago at ${s.updatedAt})`);
    else unsure.push(v);
  }
  if (live.length === 0 && unsure.length > 0) {
    deps.print(`Watching ${unsure.map((v) => `${v.state.shardId} (owner ${v.state.lease.owner})`).join(", ")} for ${leaseMs / 1000} s (the lease duration) to see whether the lease is still renewed…`);
    await deps.clock.sleep(leaseMs);
    for (const v of unsure) {
      const again = await states.read(v.state.shardId);
      if (again && again.etag !== v.etag) {
        if (again.state.lease.owner !== null) live.push(`${v.state.shardId} (held by ${again.state.lease.owner}, renewed while watched)`);
        read.set(v.state.shardId, again);
      }
    }
  }
  if (live.length > 0) {
    throw new ResetRefusedError(
      `Not resetting: a worker holds the lease of ${live.join(", ")}. Stop that worker first (or wait until its lease expires, LEASE_DURATION ${leaseMs / 1000} s), ` +
        `or pass --force to take the shard from it (its work in progress is then refused)`,
    );
  }
}
