import * as os from "node:os";
import { openStore } from "../adapters/open_store.ts";
import { kinesisConfig, s3Config } from "../adapters/aws_clients.ts";
import { KinesisSource } from "../adapters/kinesis/kinesis_source.ts";
import { ConfigError, joinUri, type Settings } from "../config/settings.ts";
import { ShardStateStore } from "../core/shard_state/shard_state_store.ts";
import { DeltaSink } from "../engine/delta_sink.ts";
import type { FaultHook } from "../engine/fault_point.ts";
import { Supervisor, type SupervisorEvents } from "../engine/supervisor.ts";
import { systemClock } from "../ports/clock.ts";
import type { RecordSource } from "../ports/record_source.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { logger } from "../telemetry/logging.ts";
import { sinkTelemetry, supervisorTelemetry } from "../telemetry/run_telemetry.ts";
import { chooseDomain } from "./domains.ts";

export interface RunDeps {
  metrics: Metrics;
  /** Replaces the Kinesis source (tests, benchmarks). */
  source?: RecordSource;
  fault?: FaultHook;
  /** Extra event hooks (progress lines). */
  events?: SupervisorEvents;
}

export interface Prepared {
  supervisor: Supervisor;
  sink: DeltaSink<unknown, unknown>;
  source: RecordSource;
}

/** Builds the run for `settings`: source, domain and its tables, shard states, telemetry. */
export async function prepareRun(settings: Settings, deps: RunDeps): Promise<Prepared> {
  if (!settings.stream && !deps.source) throw new ConfigError("Cannot start: 'stream' is required: set STREAM_NAME, --stream or [default] STREAM_NAME in the config file");
  const s3 = s3Config(settings);
  const source = deps.source ?? new KinesisSource(settings.stream!, KinesisSource.client(kinesisConfig(settings)), settings.region ?? "");
  const { domain, locations } = await chooseDomain(settings);
  const sink = await DeltaSink.open(
    domain,
    Object.fromEntries(Object.entries(locations).map(([name, url]) => [name, openStore(url, s3)])),
    {
      stream: source.streamName,
      clock: systemClock,
      writer: { codec: settings.compression },
      ...(deps.fault ? { fault: deps.fault } : {}),
      events: sinkTelemetry(deps.metrics, logger("sink")),
    },
  );
  const states = new ShardStateStore(openStore(settings.checkpointsRoot, s3), joinUri(settings.appName, source.streamName, "shards") + "/");
  const events = mergeEvents(supervisorTelemetry(deps.metrics, logger("subscriber"), { appName: settings.appName }), deps.events ?? {});
  const supervisor = new Supervisor(source, states, systemClock, sink, {
    appName: settings.appName,
    initialPosition: settings.initialPosition,
    batch: { maxRecords: settings.maxBatchRecords, maxBytes: settings.maxBatchBytes, maxAgeMs: settings.maxBatchAge },
    lease: {
      workerId: settings.workerId ?? `${os.hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
      leaseDurationMs: settings.leaseDuration,
    },
    ...(deps.fault ? { fault: deps.fault } : {}),
  }, events);
  return { supervisor, sink: sink as DeltaSink<unknown, unknown>, source };
}

/** Calls every hook of `a`, then of `b`. */
function mergeEvents(a: SupervisorEvents, b: SupervisorEvents): SupervisorEvents {
  const out: Record<string, (...args: unknown[]) => void> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const fa = (a as Record<string, ((...args: unknown[]) => void) | undefined>)[k];
    const fb = (b as Record<string, ((...args: unknown[]) => void) | undefined>)[k];
    out[k] = (...args) => {
      fa?.(...args);
      fb?.(...args);
    };
  }
  return out as SupervisorEvents;
}
