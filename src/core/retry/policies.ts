import type { RetryPolicy } from "./retry.ts";

/**
 * Every retry policy of the program, with the reason for its numbers. A retry site names
 * one of these; nothing else chooses attempts or delays.
 */
export const POLICIES = {
  /**
   * A batch's table commits failed for a reason other than a lost race (S3 errors, a file
   * that could not be built). 5 attempts from 0.5 s doubling to 30 s span about a minute:
   * long enough for a blip, short enough that a batch that cannot be written is reported
   * (and its intent kept for the next run) instead of hiding behind retries.
   */
  batchCommit: { name: "batch-commit", attempts: 5, initialDelayMs: 500, maxDelayMs: 30_000 },
  /**
   * A prepare step (the package_table MERGE) lost its files or its version to another
   * writer and is computed again. Each attempt reads the winners first, so progress is
   * made; 20 attempts from 50 ms doubling to 2 s outlast a handful of instances committing
   * to the same small table, and the jitter keeps them from colliding again in step.
   */
  prepareConflict: { name: "prepare-conflict", attempts: 20, initialDelayMs: 50, maxDelayMs: 2_000 },
  /**
   * A table commit met another writer's commit of some of the same shards (a replay by the
   * shard's new owner): those shards are dropped and the rest written again. Each round
   * removes at least one shard, so a few attempts suffice; no pause is needed.
   */
  tableTxnConflict: { name: "table-txn-conflict", attempts: 10, initialDelayMs: 0, maxDelayMs: 0, jitter: 0 },
  /**
   * A Delta commit lost the race for a version: the winners are read and checked and the
   * same files tried at the next version. No pause (the winners were read, the next
   * version is free unless yet another writer is faster); 100 attempts before a table that
   * never stops moving is reported.
   */
  deltaVersionRace: { name: "delta-version-race", attempts: 100, initialDelayMs: 0, maxDelayMs: 0, jitter: 0 },
  /**
   * The store or the stream is unavailable (connection refused or reset, timeouts, 5xx,
   * throttling): from 1 s doubling to 30 s, ±50 %, for as long as the outage budget allows
   * (`budgetMs`, set per site from OUTAGE_BUDGET, 15 minutes by default). A restart would
   * not help, and an outage of a few minutes is common; past the budget the process stops
   * (exit 4) so that a supervisor sees it, and nothing is lost.
   */
  outage: { name: "outage", attempts: Infinity, initialDelayMs: 1_000, maxDelayMs: 30_000 },
  /**
   * GetRecords throttled (over 5 calls/s or 2 MiB/s per shard, shared by every consumer)
   * or failed on the network or a 5xx: from 1 s, as the Kinesis documentation advises,
   * doubling to 10 s, ±50 %, within the outage budget (the reader sets `budgetMs`; the
   * iterator lives 5 min and is acquired again when it expired).
   */
  kinesisRead: { name: "kinesis-read", attempts: Infinity, initialDelayMs: 1_000, maxDelayMs: 10_000 },
  /**
   * PutRecords returned records that failed (throttled shards): those are put again, from
   * 50 ms doubling to 2 s, 20 attempts (about 30 s) before the producer gives up.
   */
  putRecords: { name: "put-records", attempts: 20, initialDelayMs: 50, maxDelayMs: 2_000 },
  /**
   * A shard state write lost its compare-and-swap: the object is read again and, while the
   * lease is still ours (a renewal raced with an intent), written again at once. Three
   * re-reads; after that the lease is treated as lost.
   */
  shardStateCas: { name: "shard-state-cas", attempts: 4, initialDelayMs: 0, maxDelayMs: 0, jitter: 0 },
  /**
   * Reading a shard state object from a local folder met ENOENT between finding and
   * opening it: another process replaced it by rename at that moment. Read again at once;
   * 7 attempts, after which the file-system error is the answer.
   */
  localVersionedRead: { name: "local-versioned-read", attempts: 7, initialDelayMs: 0, maxDelayMs: 0, jitter: 0 },
  /**
   * An S3 conditional write answered 409 ConditionalRequestConflict: another conditional
   * write to the key was in progress. Tried again from 20 ms doubling, ±50 %, 9 attempts
   * (about 10 s in all): long enough for the other write to finish.
   */
  s3ConditionalConflict: { name: "s3-conditional-conflict", attempts: 9, initialDelayMs: 20, maxDelayMs: 5_120 },
  /**
   * A GetObject whose body broke off (a truncated answer, a reset or a stall while the body
   * streamed). The SDK retries such failures for every call whose body it reads, but a
   * GetObject body is read after `send` returned, outside its retries: sent again after
   * 100 ms, then 200 ms, ±50 %, 3 attempts in all.
   */
  s3BrokenBody: { name: "s3-broken-body", attempts: 3, initialDelayMs: 100, maxDelayMs: 200 },
} as const satisfies Record<string, RetryPolicy>;
