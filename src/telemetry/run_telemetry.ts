/**
 * The run's events as log lines and Prometheus metrics: each event both logs (a sentence;
 * ERROR only where an operator must act; DEBUG per GetRecords, per table commit, per lease
 * change) and counts.
 *
 * Every family is declared up front ({@link runMetrics}, {@link supervisorTelemetry},
 * {@link sinkTelemetry}), and every series whose labels come from a closed set (the
 * tables, the batch triggers, the {@link ERROR_REASONS}) is created at 0, so that a scrape
 * before the first batch already shows them. README.md ("Metrics") lists them.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { ConcurrentDeleteReadError, ConcurrentTransactionError, MetadataChangedError } from "../core/delta/errors.ts";
import { dependencyOf } from "../core/retry/failure_kind.ts";
import type { SinkEvents } from "../engine/delta_sink.ts";
import type { CompactionEvents } from "../engine/auto_compactor.ts";
import type { ShardStoppedEvent, SupervisorEvents } from "../engine/supervisor.ts";
import { COMMIT, VERSION } from "../version.ts";
import { ERROR_REASONS, errorReason } from "./error_reason.ts";
import { Metrics } from "./metrics.ts";
import { registerProcessMetrics } from "./process_metrics.ts";

/** The metric names of the run (without the process metrics). */
export const METRIC = {
  buildInfo: "data_subscriber_build_info",
  records: "data_subscriber_records_committed_total",
  bytes: "data_subscriber_bytes_committed_total",
  batches: "data_subscriber_batches_committed_total",
  batchSeconds: "data_subscriber_batch_commit_duration_seconds",
  commitRetries: "data_subscriber_commit_retries_total",
  outageRetries: "data_subscriber_unavailable_retries_total",
  readRetries: "data_subscriber_read_retries_total",
  leaseRoundFailures: "data_subscriber_lease_round_failures_total",
  leasesAcquired: "data_subscriber_leases_acquired_total",
  leasesLost: "data_subscriber_leases_lost_total",
  shardsHeld: "data_subscriber_shards_held",
  shardLag: "data_subscriber_shard_lag_seconds",
  shardsFinished: "data_subscriber_shards_finished_total",
  shardStops: "data_subscriber_shard_stops_total",
  shardsStopped: "data_subscriber_shards_stopped",
  rows: "data_subscriber_rows_written_total",
  tableSeconds: "data_subscriber_table_commit_duration_seconds",
  lastCommit: "data_subscriber_last_commit_timestamp_seconds",
  tableShardsSkipped: "data_subscriber_table_shards_skipped_total",
  conflicts: "data_subscriber_commit_conflicts_total",
  racesLost: "data_subscriber_commit_races_lost_total",
  checkpointFailures: "data_subscriber_delta_checkpoint_failures_total",
  compactions: "data_subscriber_compactions_total",
  compactionSeconds: "data_subscriber_compaction_duration_seconds",
  compactedFiles: "data_subscriber_compacted_files_total",
} as const;

/** How an auto-compaction ended. */
export const COMPACTION_RESULTS = ["compacted", "skipped", "failed"] as const;

/** What closed a batch (the batcher's triggers, and a replayed intent). */
export const BATCH_TRIGGERS = ["records", "bytes", "age", "end", "flush", "replay"] as const;
/** What a commit conflict was about. */
export const CONFLICT_KINDS = ["metadata_changed", "concurrent_transaction", "concurrent_delete_read", "other"] as const;
/** The dependency an outage is about. */
export const DEPENDENCIES = ["store", "source", "unknown"] as const;
/** Where an outage was met (the engine's `OutageSite`, in snake case). */
export const OUTAGE_SITES = ["start", "commit", "shard_state", "lease_round", "read"] as const;

/** A new registry with the process metrics, the build and every run family declared. */
export function runMetrics(): Metrics {
  const metrics = new Metrics();
  registerProcessMetrics(metrics);
  metrics.gauge(METRIC.buildInfo, "Always 1; the labels say which build this is (version, commit).", ["version", "commit"]);
  metrics.set(METRIC.buildInfo, { version: VERSION, commit: COMMIT }, 1);
  registerSupervisorMetrics(metrics);
  return metrics;
}

/** Declares the families of the supervisor's events (idempotent). */
export function registerSupervisorMetrics(m: Metrics): void {
  m.counter(METRIC.records, "User records (after KPL de-aggregation) committed to the tables, replays included.");
  m.counter(METRIC.bytes, "Payload bytes of the user records committed to the tables.");
  m.counter(METRIC.batches, "Batches committed, by what closed them: records, bytes, age, end (a shard ended), flush (tip or shutdown), replay.", ["trigger"]);
  for (const trigger of BATCH_TRIGGERS) m.init(METRIC.batches, { trigger });
  m.histogram(METRIC.batchSeconds, "Time to commit a batch (intents, every table, shard states), in seconds.");
  m.counter(METRIC.commitRetries, "Batch commits that failed for a reason other than an outage and were tried again, by reason.", ["reason"]);
  m.counter(METRIC.readRetries, "Kinesis reads (GetRecords, GetShardIterator) that failed and were tried again, by reason.", ["reason"]);
  m.counter(METRIC.leaseRoundFailures, "Lease rounds that failed and were tried again at the next round, by reason.", ["reason"]);
  for (const reason of ERROR_REASONS) {
    m.init(METRIC.commitRetries, { reason });
    m.init(METRIC.readRetries, { reason });
    m.init(METRIC.leaseRoundFailures, { reason });
  }
  m.counter(METRIC.outageRetries, "Calls retried because S3 (store) or Kinesis (source) was unavailable, by dependency and by what the run was doing (site).", [
    "dependency",
    "site",
  ]);
  for (const dependency of DEPENDENCIES) for (const site of OUTAGE_SITES) m.init(METRIC.outageRetries, { dependency, site });
  m.counter(METRIC.leasesAcquired, "Shard leases this worker took.");
  m.counter(METRIC.leasesLost, "Shard leases this worker lost to another worker (it stopped reading those shards).");
  m.gauge(METRIC.shardsHeld, "Shards whose lease this worker holds now.");
  m.gauge(METRIC.shardLag, "How far the last GetRecords response of a held shard was behind the tip of the shard (MillisBehindLatest), in seconds.", ["shard"]);
  m.counter(METRIC.shardsFinished, "Closed shards (after a reshard) read to their end and committed.");
  m.counter(METRIC.shardStops, "Shards this worker stopped at a gap in the stream (records trimmed before they were read).");
  m.gauge(METRIC.shardsStopped, "Shards stopped at a gap in the stream, waiting for an operator's 'checkpoints reset' (as of the last lease round).");
}

/** Declares the per-table families and creates their series at 0 for `tables` (idempotent). */
export function registerTableMetrics(m: Metrics, tables: readonly string[]): void {
  m.counter(METRIC.rows, "Rows written per table (package_table: rows whose stock changed; quarantine: records refused).", ["table"]);
  m.histogram(METRIC.tableSeconds, "Time to commit one table's part of a batch, in seconds.", ["table"]);
  m.gauge(METRIC.lastCommit, "When this worker last committed to the table, in seconds since the Unix epoch (0: not since it started).", ["table"]);
  m.counter(METRIC.tableShardsSkipped, "Shards of a batch that a table already held and that were left out of its commit (replays, other workers).", ["table"]);
  m.counter(METRIC.conflicts, "Table commits computed again after a conflicting concurrent commit, by kind of conflict.", ["table", "kind"]);
  m.counter(METRIC.racesLost, "Delta versions another writer created first (the commit went to the next version).", ["table"]);
  m.counter(METRIC.checkpointFailures, "Delta checkpoints or log cleanups that failed after their commit (the commit stands).", ["table"]);
  for (const table of tables) {
    for (const name of [METRIC.rows, METRIC.tableSeconds, METRIC.lastCommit, METRIC.tableShardsSkipped, METRIC.racesLost, METRIC.checkpointFailures]) m.init(name, { table });
    for (const kind of CONFLICT_KINDS) m.init(METRIC.conflicts, { table, kind });
  }
}

/** What was committed so far, for progress lines. */
export function committedSoFar(m: Metrics, tables: readonly string[]): { records: number; batches: number; rows: Record<string, number> } {
  return {
    records: m.total(METRIC.records),
    batches: m.total(METRIC.batches),
    rows: Object.fromEntries(tables.map((t) => [t, m.get(METRIC.rows, { table: t })])),
  };
}

export interface SupervisorTelemetryOptions {
  /** The application name, when not the default: the reset command must name it to find the shard states. */
  appName?: string;
}

/**
 * The command that resumes a stopped shard at the oldest record the stream still has
 * (run with the same configuration as the subscriber: environment or --config).
 */
export function resetCommand(stream: string, shardId: string, appName?: string): string {
  const app = appName && appName !== "data-subscriber" ? ` --app-name ${appName}` : "";
  return `data-subscriber checkpoints reset --stream ${stream}${app} --shard ${shardId} --to trim-horizon`;
}

/** The records a stopped shard may have lost, in words. */
export function lostRange(e: Pick<ShardStoppedEvent, "stopped" | "intent">): string {
  const p = (x: { sequenceNumber: string; subSequenceNumber: number }) => `${x.sequenceNumber}/${x.subSequenceNumber}`;
  const { stopped, intent } = e;
  if (intent?.first && intent.last) {
    return `batch ${intent.batch} (${intent.records} records, ${p(intent.first)} to ${p(intent.last)}) in every table that had not committed it, ` +
      `and whatever followed it that the stream no longer has (it now starts at ${stopped.firstAvailable ?? "no record"})`;
  }
  return `the records after ${p(stopped.asked)}` + (stopped.firstAvailable === null ? " to the end of the shard" : ` and before ${stopped.firstAvailable}`);
}

/** What closed a batch, in words. */
const TRIGGER_WORDS: Record<(typeof BATCH_TRIGGERS)[number], string> = {
  records: "it reached the record limit",
  bytes: "it reached the byte limit",
  age: "its oldest record reached the age limit",
  end: "a shard ended",
  flush: "the readers reached the tip or the run is stopping",
  replay: "it replays a batch in flight",
};

/** The supervisor's and the exactly-once protocol's events as log lines and metrics. */
export function supervisorTelemetry(metrics: Metrics, log: Logger, options: SupervisorTelemetryOptions = {}): SupervisorEvents {
  registerSupervisorMetrics(metrics);
  /** Stopped shards already told about, so that each is logged once per process. */
  const told = new Set<string>();
  /** The shards this worker holds a lease on, as the events tell. */
  const held = new Set<string>();
  const holding = (change: () => boolean) => {
    if (!change()) return;
    metrics.set(METRIC.shardsHeld, {}, held.size);
    log.debug("This worker now holds {count} shard lease(s): {shards}.", { count: held.size, shards: [...held].sort().join(", ") || "none" });
  };
  const release = (shardId: string) => {
    metrics.remove(METRIC.shardLag, { shard: shardId });
    holding(() => held.delete(shardId));
  };
  return {
    leaseAcquired(shardId, state) {
      metrics.inc(METRIC.leasesAcquired);
      if (state.intent) {
        log.info("Took the lease of shard {shardId} at batch {batch}; replaying its batch in flight ({intentBatch}) first.", {
          shardId,
          batch: state.batch,
          intentBatch: state.intent.batch,
        });
      } else {
        log.info("Took the lease of shard {shardId} at batch {batch}.", { shardId, batch: state.batch });
      }
      holding(() => !held.has(shardId) && !!held.add(shardId));
    },
    leaseLost(shardId) {
      metrics.inc(METRIC.leasesLost);
      log.warn("Lost the lease of shard {shardId} to another worker; stopped reading it.", { shardId });
      release(shardId);
    },
    batchCommitted(info) {
      metrics.inc(METRIC.batches, { trigger: info.trigger });
      metrics.inc(METRIC.records, {}, info.records);
      metrics.inc(METRIC.bytes, {}, info.bytes);
      metrics.observe(METRIC.batchSeconds, {}, info.ms / 1000);
      log.info("Committed a batch of {records} records from {shards} shard(s) in {ms} ms, closed because {closedBecause}.", {
        records: info.records,
        bytes: info.bytes,
        shards: info.shards,
        ms: Math.round(info.ms),
        trigger: info.trigger,
        closedBecause: TRIGGER_WORDS[info.trigger],
      });
    },
    lag(shardId, ms) {
      if (held.has(shardId)) metrics.set(METRIC.shardLag, { shard: shardId }, ms / 1000);
    },
    recordsRead(shardId, read) {
      log.debug("GetRecords on shard {shardId}: {records} records, {bytes} bytes, {millisBehindLatest} ms behind the tip.", { shardId, ...read });
    },
    shardFinished(shardId) {
      metrics.inc(METRIC.shardsFinished);
      log.info("Shard {shardId} is finished; its children may start.", { shardId });
      release(shardId);
    },
    readRetry(shardId, err) {
      const reason = errorReason(err);
      metrics.inc(METRIC.readRetries, { reason });
      log.debug("Reading shard {shardId} failed ({reason}) and is retried: {error}", { shardId, reason, error: err.message });
    },
    commitRetry(err, attempt, delayMs) {
      const reason = errorReason(err);
      metrics.inc(METRIC.commitRetries, { reason });
      log.warn("Committing a batch failed (attempt {attempt}, {reason}); retrying in {ms} ms: {error}", { attempt, reason, ms: Math.round(delayMs), error: message(err) });
    },
    leaseRoundFailed(err) {
      metrics.inc(METRIC.leaseRoundFailures, { reason: errorReason(err) });
      // An outage is told (once a minute) by the outage log; anything else here.
      if (dependencyOf(err)) log.debug("A lease round failed and will be retried: {error}", { error: message(err) });
      else log.warn("A lease round failed and will be retried: {error}", { error: message(err) });
    },
    unavailable(e) {
      metrics.inc(METRIC.outageRetries, { dependency: e.dependency ?? "unknown", site: e.site.replace(/-/g, "_") });
    },
    shardLeftBatch(shardId, reason) {
      log.info("Shard {shardId} left a batch: {reason}. Its records are read again from its checkpoint.", { shardId, reason });
    },
    shardStopped(e) {
      told.add(e.shardId);
      metrics.inc(METRIC.shardStops);
      log.error(
        "Shard {shardId} of {stream} is STOPPED: {reason}. Records that may be lost: {lost}. Nothing more of this shard, nor of its children, is read until an operator decides; " +
          "to resume it at the oldest record the stream still has, run: {command}",
        { shardId: e.shardId, stream: e.stream, reason: e.stopped.reason, lost: lostRange(e), command: resetCommand(e.stream, e.shardId, options.appName) },
      );
      release(e.shardId);
    },
    stoppedShards(shardIds) {
      metrics.set(METRIC.shardsStopped, {}, shardIds.length);
      for (const id of shardIds) {
        if (told.has(id)) continue;
        told.add(id);
        log.warn("Shard {shardId} is stopped (see its state, or 'data-subscriber status'); not reading it nor its children until it is reset.", { shardId: id });
      }
      for (const id of told) if (!shardIds.includes(id)) told.delete(id);
    },
  };
}

/** The kind of a commit conflict, as a label value. */
function conflictKind(err: Error): (typeof CONFLICT_KINDS)[number] {
  if (err instanceof MetadataChangedError) return "metadata_changed";
  if (err instanceof ConcurrentTransactionError) return "concurrent_transaction";
  if (err instanceof ConcurrentDeleteReadError) return "concurrent_delete_read";
  return "other";
}

/** What a conflict kind means, in words. */
const CONFLICT_WORDS: Record<(typeof CONFLICT_KINDS)[number], string> = {
  metadata_changed: "the table's schema or protocol changed",
  concurrent_transaction: "another writer committed some of its shards",
  concurrent_delete_read: "another writer removed a file it read",
  other: "a concurrent commit",
};

/**
 * The Delta sink's events as log lines and metrics: commits, skipped shards, conflicts,
 * lost races, failed checkpoints. `tables`: every table the sink writes, whose series are
 * created at 0.
 */
export function sinkTelemetry(metrics: Metrics, log: Logger, tables: readonly string[] = []): SinkEvents {
  registerTableMetrics(metrics, tables);
  return {
    tableCommitted(table, rows, ms, version) {
      metrics.inc(METRIC.rows, { table }, rows);
      metrics.observe(METRIC.tableSeconds, { table }, ms / 1000);
      metrics.set(METRIC.lastCommit, { table }, Date.now() / 1000);
      if (version === undefined) log.debug("Committed {rows} rows to {table} in {ms} ms.", { table, rows, ms: Math.round(ms) });
      else log.debug("Committed {rows} rows to {table} as version {version} in {ms} ms.", { table, version, rows, ms: Math.round(ms) });
    },
    tableSkipped(table, shards) {
      metrics.inc(METRIC.tableShardsSkipped, { table }, shards.length);
      log.info("Table {table} already holds this batch of shard(s) {shards}; left them out.", { table, shards: shards.join(", ") });
    },
    conflict(table, err, attempt) {
      const kind = conflictKind(err);
      metrics.inc(METRIC.conflicts, { table, kind });
      log.info("A commit to {table} met a concurrent change ({change}; attempt {attempt}); computing it again.", { table, kind, change: CONFLICT_WORDS[kind], attempt });
    },
    versionRaceLost(table, version) {
      metrics.inc(METRIC.racesLost, { table });
      log.debug("Lost the race for version {version} of {table}; trying the next version.", { table, version });
    },
    checkpointFailed(table, version, err) {
      metrics.inc(METRIC.checkpointFailures, { table });
      log.warn("The Delta checkpoint of {table} at version {version} failed (the commit stands; the next checkpoint covers it): {error}", {
        table,
        version,
        error: message(err),
      });
    },
    tableAdopted(table, conversions) {
      log.info("Table {table} exists with a schema of its own; writing into it as it is: {conversions}.", { table, conversions: conversions.join("; ") });
    },
    schemaEvolved(table, columns, version) {
      log.warn("Added the column(s) {columns} to table {table} as version {version} (schema evolution: nullable, at the end; older rows read them as null).", {
        table,
        columns: columns.join(", "),
        version,
      });
    },
  };
}

/**
 * Auto-compaction's events as log lines and metrics: compactions by table and result, their
 * duration, the files they removed. Declared (at 0 for `tables`) whether or not
 * auto-compaction is on, so that dashboards see the families.
 */
export function compactionTelemetry(metrics: Metrics, log: Logger, tables: readonly string[] = []): CompactionEvents {
  metrics.counter(METRIC.compactions, "Auto-compactions (--auto-compact) by table and result: compacted, skipped (nothing to do, or every bin lost to a concurrent commit), failed.", ["table", "result"]);
  metrics.histogram(METRIC.compactionSeconds, "Time an auto-compaction took, in seconds (it runs beside ingest).", ["table"], [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]);
  metrics.counter(METRIC.compactedFiles, "Small files auto-compaction removed (rewrote into larger ones), by table.", ["table"]);
  for (const table of tables) {
    for (const result of COMPACTION_RESULTS) metrics.init(METRIC.compactions, { table, result });
    metrics.init(METRIC.compactionSeconds, { table });
    metrics.init(METRIC.compactedFiles, { table });
  }
  return {
    compactionDone(table, result, ms, res, err) {
      metrics.inc(METRIC.compactions, { table, result });
      metrics.observe(METRIC.compactionSeconds, { table }, ms / 1000);
      if (res) metrics.inc(METRIC.compactedFiles, { table }, res.numRemovedFiles);
      const fields = { table, ms: Math.round(ms), removed: res?.numRemovedFiles ?? 0, added: res?.numAddedFiles ?? 0, version: res?.version ?? null, skipped: res?.binsSkipped ?? 0 };
      if (result === "compacted") log.info("Compacted {removed} small files of {table} into {added} as version {version} in {ms} ms.", fields);
      else if (result === "skipped") log.info("Auto-compaction of {table} committed nothing ({skipped} bin(s) lost to concurrent commits) in {ms} ms.", fields);
      else log.warn("Auto-compaction of {table} failed after {ms} ms (ingest goes on; the files it wrote are left for vacuum): {error}", { ...fields, error: message(err) });
    },
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
