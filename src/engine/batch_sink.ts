import type { UserRecord } from "../core/kinesis/records.ts";

/** One shard's part of a batch handed to the sink. */
export interface CommitShard {
  shardId: string;
  /** The `txn.appId` of this shard in every table commit: `<app>/<stream>/<shardId>`. */
  appId: string;
  /** The `txn.version`: the shard's batch number. A table already at it holds these records. */
  batch: number;
  records: UserRecord[];
  /** On a replay: the prepare step's decision recorded in the shard's intent, if any. */
  prepared?: Record<string, string>;
}

/** A batch as the sink sees it: the shards' records, each shard with its txn. */
export interface CommitBatch {
  shards: CommitShard[];
  /** A replay of an intent found on taking a shard (a crash, or a lost lease, mid-batch). */
  replay: boolean;
  /** Wall-clock time of the batch, ms; the same on every replay of it. */
  wallMs: number;
  /**
   * Records the prepare step's decision in the intents of the batch's shards; the sink
   * calls it before the prepare step's commit. A shard whose lease was lost meanwhile is
   * left out (its new owner finds the decision in the table's log).
   */
  recordPrepared?: (parameters: Record<string, string>) => Promise<void>;
}

/**
 * Writes a batch to the tables. The exactly-once protocol relies on:
 * - idempotence per shard txn: a table whose txn for a shard's appId is already at
 *   `batch` gets nothing of that shard, so a replayed batch lands once;
 * - all or nothing before the first commit: when anything fails before the first table
 *   commit, no table changed;
 * - determinism: a replay writes the same rows (given the same records and `wallMs`) as
 *   the first attempt did, for every table it still has to write;
 * - a prepare step's decision is handed to `recordPrepared` before the commit that makes
 *   it, and read back from `prepared` (or the table's log) on replay; every decision the
 *   rows follow gets that commit, rows changed or not;
 * - a shard that a table holds at a later batch than the one handed over has been
 *   committed and passed by its next owner (this worker was cut off meanwhile): nothing
 *   of it is written, and no decision is asked for it.
 */
export interface BatchSink {
  commit(batch: CommitBatch): Promise<void>;
  /**
   * What a record will take in memory once decoded, in bytes (an estimate), for the
   * batcher's caps; a sink may decode the record here and keep the result for `commit`.
   * Without it, a record counts its payload bytes.
   */
  weigh?(record: UserRecord): number;
}
