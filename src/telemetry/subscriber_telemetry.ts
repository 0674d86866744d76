import type { Logger } from "@logtape/logtape";
import type { SubscriberEvents } from "../pipeline/subscriber.ts";
import type { Metrics } from "./metrics.ts";

/**
 * The subscriber's events as log lines and Prometheus metrics: each event both logs (a
 * sentence; ERROR only where an operator must act) and counts.
 */
export function subscriberTelemetry(metrics: Metrics, log: Logger): SubscriberEvents {
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
    commitRetry(err, attempt) {
      metrics.inc("ds_commit_retries_total", "Batch commits retried after an error");
      log.warn("Committing a batch failed (attempt {attempt}); retrying: {error}", { attempt, error: String(err) });
    },
    leaseRoundFailed(err) {
      metrics.inc("ds_lease_round_failures_total", "Lease rounds that failed (S3 or Kinesis unreachable) and were retried");
      log.warn("A lease round failed and will be retried: {error}", { error: String(err) });
    },
    replayMismatch(shardId, expected, found) {
      metrics.inc("ds_replay_mismatches_total", "Intent replays that found another number of records than recorded");
      log.error(
        "Replaying shard {shardId}'s intent found {found} of its {expected} records: the rest may have expired from the stream.",
        { shardId, expected, found },
      );
    },
  };
}
