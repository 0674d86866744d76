import type { Logger } from "@logtape/logtape";
import type { SinkEvents } from "../engine/delta_sink.ts";
import type { ShardStoppedEvent, SupervisorEvents } from "../engine/supervisor.ts";
import type { Metrics } from "./metrics.ts";

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

/**
 * The supervisor's and the exactly-once protocol's events as log lines and Prometheus
 * metrics: each event both logs (a sentence; ERROR only where an operator must act) and counts.
 */
export function supervisorTelemetry(metrics: Metrics, log: Logger, options: SupervisorTelemetryOptions = {}): SupervisorEvents {
  /** Stopped shards already told about, so that each is logged once per process. */
  const told = new Set<string>();
  return {
    leaseAcquired(shardId, state) {
      metrics.inc("ds_leases_acquired_total", "Shard leases this worker took");
      log.info("Took the lease of shard {shardId} (batch {batch}{intent}).", { shardId, batch: state.batch, intent: state.intent ? ", replaying its intent" : "" });
    },
    leaseLost(shardId) {
      metrics.inc("ds_leases_lost_total", "Shard leases another worker took from this one");
      log.warn("Lost the lease of shard {shardId} to another worker; stopped reading it.", { shardId });
    },
    batchCommitted(info) {
      metrics.inc("ds_batches_total", "Batches committed", { trigger: info.trigger });
      metrics.inc("ds_records_read_total", "User records committed from the stream", {}, info.records);
      metrics.inc("ds_bytes_read_total", "Payload bytes committed from the stream", {}, info.bytes);
      metrics.observe("ds_batch_commit_seconds", "Time to commit a batch: intents, tables, checkpoints", {}, info.ms / 1000);
      log.info("Committed a batch of {records} records from {shards} shard(s) in {ms} ms ({trigger}).", { ...info, ms: Math.round(info.ms) });
    },
    lag(shardId, ms) {
      metrics.set("ds_shard_lag_milliseconds", "MillisBehindLatest of the shard's last GetRecords", { shard: shardId }, ms);
    },
    shardFinished(shardId) {
      metrics.inc("ds_shards_finished_total", "Closed shards read to their end and committed");
      log.info("Shard {shardId} is finished; its children may start.", { shardId });
    },
    readRetry(shardId, err) {
      metrics.inc("ds_read_retries_total", "GetRecords calls retried", { kind: err.name });
      log.debug("Retrying shard {shardId}: {error}", { shardId, error: err.message });
    },
    commitRetry(err, attempt, delayMs) {
      metrics.inc("ds_commit_retries_total", "Batch commits retried after an error");
      log.warn("Committing a batch failed (attempt {attempt}); retrying in {ms} ms: {error}", { attempt, ms: Math.round(delayMs), error: String(err) });
    },
    leaseRoundFailed(err) {
      metrics.inc("ds_lease_round_failures_total", "Lease rounds that failed (S3 or Kinesis unreachable) and were retried");
      log.warn("A lease round failed and will be retried: {error}", { error: String(err) });
    },
    shardStopped(e) {
      told.add(e.shardId);
      metrics.inc("ds_shard_stops_total", "Shards this worker stopped at a gap in the stream (records no longer there)");
      log.error(
        "Shard {shardId} of {stream} is STOPPED: {reason}. Records that may be lost: {lost}. Nothing more of this shard, nor of its children, is read until an operator decides; " +
          "to resume it at the oldest record the stream still has, run: {command}",
        { shardId: e.shardId, stream: e.stream, reason: e.stopped.reason, lost: lostRange(e), command: resetCommand(e.stream, e.shardId, options.appName) },
      );
    },
    stoppedShards(shardIds) {
      metrics.set("ds_shards_stopped", "Shards stopped at a gap in the stream, waiting for an operator's checkpoints reset", {}, shardIds.length);
      for (const id of shardIds) {
        if (told.has(id)) continue;
        told.add(id);
        log.warn("Shard {shardId} is stopped (see its state, or 'data-subscriber status'); not reading it nor its children until it is reset.", { shardId: id });
      }
      for (const id of told) if (!shardIds.includes(id)) told.delete(id);
    },
  };
}

/** The Delta sink's events as log lines and metrics: commits, skipped shards, conflicts, lost races, failed checkpoints. */
export function sinkTelemetry(metrics: Metrics, log: Logger): SinkEvents {
  return {
    tableCommitted(table, rows, ms) {
      metrics.inc("ds_rows_written_total", "Rows written per table (package_table: rows whose stock changed)", { table }, rows);
      metrics.observe("ds_table_commit_seconds", "Time to commit one table's part of a batch", { table }, ms / 1000);
      log.debug("Committed {rows} rows to {table} in {ms} ms.", { table, rows, ms: Math.round(ms) });
    },
    tableSkipped(table, shards) {
      metrics.inc("ds_table_shards_skipped_total", "Shards of a batch a table already held (replays, other workers)", { table }, shards.length);
      log.info("{table} already holds this batch of shard(s) {shards}; left them out.", { table, shards: shards.join(", ") });
    },
    conflict(table, err, attempt) {
      metrics.inc("ds_commit_conflicts_total", "Commits computed again after a conflicting concurrent commit", { table, kind: err.name });
      log.info("A commit to {table} met a concurrent change ({kind}, attempt {attempt}); computing it again.", { table, kind: err.name, attempt });
    },
    versionRaceLost(table, version) {
      metrics.inc("ds_commit_races_lost_total", "Delta versions another writer created first (the commit moved to the next one)", { table });
      log.debug("Lost the race for version {version} of {table}; trying the next version.", { table, version });
    },
    checkpointFailed(table, version, err) {
      metrics.inc("ds_delta_checkpoint_failures_total", "Delta checkpoints (or log cleanups) that failed after their commit", { table });
      log.warn("The Delta checkpoint of {table} at version {version} failed (the commit stands; the next checkpoint covers it): {error}", {
        table,
        version,
        error: String(err),
      });
    },
  };
}
