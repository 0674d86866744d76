import type { Position } from "../kinesis/position.ts";

/**
 * What is kept per shard, in one object changed only by compare-and-swap: the lease, the
 * committed position, and the batch in flight. Its JSON is the shard's state object.
 */
export interface ShardState {
  format: 1;
  stream: string;
  shardId: string;
  /** Parent shards, which must be finished before this one is read. */
  parents: string[];
  lease: Lease;
  /**
   * Batches committed for this shard; table commits carry `txn(appId, batch)` for the
   * batch that made them, so a table whose txn is at `batch + 1` already holds the intent.
   */
  batch: number;
  /** The last user record committed, or null before the first batch. */
  position: Position | null;
  /** Read to its end and all of it committed: the children may start. */
  finished: boolean;
  /** The batch in flight, written before any table is touched; null between batches. */
  intent: Intent | null;
  /**
   * Set when the stream no longer has what this shard must be read from (a gap): nobody
   * reads the shard, nor its children, until an operator resets it
   * (`data-subscriber checkpoints reset`). Absent in states written before it existed (read as null).
   */
  stopped?: Stopped | null;
  /**
   * Where the shard restarts, in place of `position`, as an operator's reset set it;
   * cleared by the first batch committed after it. Absent or null: from `position`.
   */
  restartAt?: RestartPosition | null;
  /** Incremented by every write, so that two versions never have the same bytes (ETags). */
  revision: number;
  /** Wall-clock time of the last write, ISO-8601, for people reading the file. */
  updatedAt: string;
}

export interface Lease {
  /** The worker holding the shard, or null when nobody does. */
  owner: string | null;
  /** Incremented by every renewal and every change of owner. */
  counter: number;
  /**
   * Incremented by every take of the lease (never by a renewal): work started under an
   * earlier epoch is refused, even by the same worker that holds the lease again.
   * Absent in states written before epochs existed (read as 0).
   */
  epoch?: number;
  /** The process holding the lease (a random id per start): two processes given the same worker id never pass for each other. */
  instance?: string;
}

/** The exact range of one shard in one batch: replaying it re-reads these records. */
export interface Intent {
  /** The batch number the table commits carry (`state.batch + 1`). */
  batch: number;
  /** First and last user record of the range, both included; null when the batch only ends the shard. */
  first: Position | null;
  last: Position | null;
  /** The shard ended within this batch: it is finished once the batch is committed. */
  ends: boolean;
  /** User records in the range, to check a replay against. */
  records: number;
  /** The batch's wall-clock time (ms): a replay uses it again, so derived values do not change. */
  at: number;
  /** The lease epoch the intent was written under. */
  epoch?: number;
  /**
   * The decision of the domain's prepare step for this batch (its commitInfo parameters),
   * recorded just before the prepare step's table commit: a replay reads it here, so it
   * survives log cleanup of that commit.
   */
  prepared?: Record<string, string>;
}

/** Why and where a shard was stopped: the range that may be lost and who found it. */
export interface Stopped {
  /** What was found, as a sentence for operators. */
  reason: string;
  /** When it was found, ISO-8601. */
  at: string;
  /** The worker that found it. */
  by: string;
  /** The user record the reader had to start with and the stream no longer has. */
  asked: Position;
  /** The sequence number of the oldest record the stream had from there, or null when none. */
  firstAvailable: string | null;
  /** The intent that could not be replayed in full, when it was found replaying one (it stays in `intent`). */
  intentBatch?: number;
}

/** An operator's choice of where a shard restarts (JSON: a time is an ISO-8601 string). */
export type RestartPosition = { type: "TRIM_HORIZON" } | { type: "LATEST" } | { type: "AT_TIMESTAMP"; timestamp: string };

export function newShardState(stream: string, shardId: string, parents: string[], wallMs: number): ShardState {
  return {
    format: 1,
    stream,
    shardId,
    parents,
    lease: { owner: null, counter: 0 },
    batch: 0,
    position: null,
    finished: false,
    intent: null,
    stopped: null,
    restartAt: null,
    revision: 0,
    updatedAt: new Date(wallMs).toISOString(),
  };
}

export function encodeShardState(s: ShardState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(s, null, 2) + "\n");
}

/** @throws {SyntaxError} naming the object when it is not a shard state. */
export function decodeShardState(bytes: Uint8Array, where: string): ShardState {
  const s = JSON.parse(new TextDecoder().decode(bytes)) as Partial<ShardState>;
  if (s.format !== 1 || typeof s.shardId !== "string" || typeof s.batch !== "number" || !s.lease) {
    throw new SyntaxError(`${where} is not a data-subscriber shard state (format 1)`);
  }
  return s as ShardState;
}
