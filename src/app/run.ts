import * as os from "node:os";
import { openStore } from "../adapters/open_store.ts";
import { kinesisConfig, s3Config } from "../adapters/aws_clients.ts";
import { KinesisSource } from "../adapters/kinesis/kinesis_source.ts";
import { tableLocations, joinUri, type Settings } from "../config/settings.ts";
import { CheckpointStore } from "../core/checkpoint/checkpoint_store.ts";
import { DeltaHandler } from "../pipeline/delta_handler.ts";
import { type FaultPoint, Subscriber, type SubscriberEvents } from "../pipeline/subscriber.ts";
import { systemClock } from "../ports/clock.ts";
import type { RecordSource } from "../ports/record_source.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { logger } from "../telemetry/logging.ts";
import { subscriberTelemetry } from "../telemetry/subscriber_telemetry.ts";
import { ConfigError } from "../config/settings.ts";

export interface RunDeps {
  metrics: Metrics;
  /** Replaces the Kinesis source (tests, benchmarks). */
  source?: RecordSource;
  fault?: (point: FaultPoint) => void;
  /** Extra event hooks (progress lines). */
  events?: SubscriberEvents;
}

export interface Prepared {
  subscriber: Subscriber;
  handler: DeltaHandler;
  source: RecordSource;
}

/** Builds the subscriber for `settings`: source, tables, checkpoints, telemetry. */
export async function prepareSubscriber(settings: Settings, deps: RunDeps): Promise<Prepared> {
  if (!settings.stream && !deps.source) throw new ConfigError("Cannot start: 'stream' is required: set STREAM_NAME, --stream or [default] STREAM_NAME in the config file");
  const s3 = s3Config(settings);
  const source = deps.source ?? new KinesisSource(settings.stream!, KinesisSource.client(kinesisConfig(settings)), settings.region ?? "");
  const locations = tableLocations(settings);
  const metrics = deps.metrics;
  const handler = await DeltaHandler.open(
    Object.fromEntries(Object.entries(locations).map(([name, url]) => [name, openStore(url, s3)])),
    {
      stream: source.streamName,
      writer: { codec: settings.compression },
      ...(deps.fault ? { fault: deps.fault } : {}),
      onTableCommit(table, rows, ms) {
        metrics.inc("ds_rows_written_total", "Rows written per table (package_table: rows whose stock changed)", { table }, rows);
        metrics.observe("ds_table_commit_seconds", "Time to write and commit one table's part of a batch", { table }, ms / 1000);
      },
    },
  );
  const checkpoints = new CheckpointStore(openStore(settings.checkpointsRoot, s3), joinUri(settings.appName, source.streamName, "shards") + "/");
  const telemetry = subscriberTelemetry(metrics, logger("subscriber"));
  const events: SubscriberEvents = mergeEvents(telemetry, deps.events ?? {});
  const subscriber = new Subscriber(source, checkpoints, systemClock, handler, {
    appName: settings.appName,
    initialPosition: settings.initialPosition,
    batch: { maxRecords: settings.maxBatchRecords, maxBytes: settings.maxBatchBytes, maxAgeMs: settings.maxBatchAge },
    lease: {
      workerId: settings.workerId ?? `${os.hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
      leaseDurationMs: settings.leaseDuration,
    },
    ...(deps.fault ? { fault: deps.fault } : {}),
  }, events);
  return { subscriber, handler, source };
}

/** Calls every hook of `a`, then of `b`. */
function mergeEvents(a: SubscriberEvents, b: SubscriberEvents): SubscriberEvents {
  const out: Record<string, (...args: unknown[]) => void> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const fa = (a as Record<string, ((...args: unknown[]) => void) | undefined>)[k];
    const fb = (b as Record<string, ((...args: unknown[]) => void) | undefined>)[k];
    out[k] = (...args) => {
      fa?.(...args);
      fb?.(...args);
    };
  }
  return out as SubscriberEvents;
}
