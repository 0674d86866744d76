import * as os from "node:os";
import { openStore } from "../adapters/open_store.ts";
import { kinesisConfig, s3Config } from "../adapters/aws_clients.ts";
import { KinesisSource } from "../adapters/kinesis/kinesis_source.ts";
import { ConfigError, joinUri, type Settings } from "../config/settings.ts";
import { ShardStateStore } from "../core/shard_state/shard_state_store.ts";
import { SchemaMismatchError } from "../core/delta/errors.ts";
import { AutoCompactor } from "../engine/auto_compactor.ts";
import { DeltaSink } from "../engine/delta_sink.ts";
import type { FaultHook } from "../engine/fault_point.ts";
import { Supervisor, type SupervisorEvents } from "../engine/supervisor.ts";
import { systemClock } from "../ports/clock.ts";
import type { RecordSource } from "../ports/record_source.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { logger } from "../telemetry/logging.ts";
import { compactionTelemetry, sinkTelemetry, supervisorTelemetry } from "../telemetry/run_telemetry.ts";
import { chooseDomain } from "./domains.ts";
import { type Dependency, dependencyOf, isUnavailable, OutageError } from "../core/retry/failure_kind.ts";
import { POLICIES } from "../core/retry/policies.ts";
import { retry, RetryExhaustedError } from "../core/retry/retry.ts";
import { outageLog } from "../telemetry/run_health.ts";

export interface RunDeps {
  metrics: Metrics;
  /** Random numbers for retry jitter (tests). @default Math.random */
  random?: () => number;
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
  /** With `--auto-compact`: close it when the run ends (stops a compaction in flight). */
  compactor?: AutoCompactor;
}

/** Builds the run for `settings`: source, domain and its tables, shard states, telemetry. */
export async function prepareRun(settings: Settings, deps: RunDeps): Promise<Prepared> {
  if (!settings.stream && !deps.source) throw new ConfigError("Cannot start: 'stream' is required: set STREAM_NAME, --stream or [default] STREAM_NAME in the config file");
  const s3 = s3Config(settings);
  const source = deps.source ?? new KinesisSource(settings.stream!, KinesisSource.client(kinesisConfig(settings)), settings.region ?? "");
  const { domain, locations } = await chooseDomain(settings);
  const compactionEvents = compactionTelemetry(deps.metrics, logger("compaction"), Object.keys(locations));
  const compactor = settings.autoCompact
    ? new AutoCompactor({ clock: systemClock, minFiles: settings.autoCompactMinFiles, maxBytes: settings.autoCompactMaxBytes, events: compactionEvents })
    : undefined;
  const outages = mergeEvents(outageLog(logger("subscriber"), systemClock, settings.outageBudget, dependencyNames(settings, source.streamName)), deps.events ?? {});
  // Opening the tables reads (and may create) them: an unavailable store is waited out here
  // as everywhere else, within the outage budget.
  let failingSince: number | undefined;
  const sink = await retry(
    () =>
      DeltaSink.open(
        domain,
        Object.fromEntries(Object.entries(locations).map(([name, url]) => [name, openStore(url, s3)])),
        {
          stream: source.streamName,
          clock: systemClock,
          writer: { codec: settings.compression, evolveSchema: settings.evolveSchema },
          ...(deps.fault ? { fault: deps.fault } : {}),
          events: sinkTelemetry(deps.metrics, logger("sink"), Object.keys(locations)),
          ...(compactor ? { compactor } : {}),
        },
      ),
    { ...POLICIES.outage, budgetMs: settings.outageBudget },
    {
      clock: systemClock,
      retriable: isUnavailable,
      ...(deps.random ? { random: deps.random } : {}),
      onRetry: (e) => {
        failingSince ??= systemClock.monoMs() - e.failingForMs;
        outages.unavailable?.({ site: "start", dependency: dependencyOf(e.error), error: e.error, attempt: e.attempt, failingForMs: e.failingForMs, delayMs: e.delayMs });
      },
    },
  ).catch((err) => {
    if (err instanceof SchemaMismatchError) throw new ConfigError(schemaMismatchMessage(err), { cause: err });
    throw err instanceof RetryExhaustedError ? new OutageError(dependencyOf(err.cause), err.failingForMs, err.cause) : err;
  });
  if (failingSince !== undefined) outages.recovered?.("start", systemClock.monoMs() - failingSince);
  const states = new ShardStateStore(openStore(settings.checkpointsRoot, s3), joinUri(settings.appName, source.streamName, "shards") + "/");
  const events = mergeEvents(supervisorTelemetry(deps.metrics, logger("subscriber"), { appName: settings.appName }), outages);
  const supervisor = new Supervisor(source, states, systemClock, sink, {
    appName: settings.appName,
    initialPosition: settings.initialPosition,
    batch: { maxRecords: settings.maxBatchRecords, maxBytes: settings.maxBatchBytes, maxAgeMs: settings.maxBatchAge },
    lease: {
      workerId: settings.workerId ?? `${os.hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
      leaseDurationMs: settings.leaseDuration,
    },
    outageBudgetMs: settings.outageBudget,
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.fault ? { fault: deps.fault } : {}),
  }, events);
  return { supervisor, sink: sink as DeltaSink<unknown, unknown>, source, ...(compactor ? { compactor } : {}) };
}

/**
 * The message of a table whose schema cannot take the rows losslessly: the columns (from
 * the error), then the two ways out.
 */
export function schemaMismatchMessage(err: SchemaMismatchError): string {
  const missing = err.missing;
  const others = err.mismatches.length - missing.length;
  const evolve = missing.length === 0
    ? "(1) schema evolution cannot help here: it only adds missing columns (change the table's columns with Spark if they must stay)"
    : `(1) start with --evolve-schema (EVOLVE_SCHEMA=true) to add ${missing.join(", ")} as nullable column(s), ` +
      `in one metaData commit per table as Spark's mergeSchema makes (older rows read them as null; partitioning, properties and protocol are kept)` +
      (others > 0 ? `; the other column(s) above cannot be fixed that way` : "");
  return `Cannot start: ${err.message}\nTwo ways out: ${evolve}; or (2) write to a new location (--tables-root, or the table's name setting such as --orders-table) and keep the table as it is.`;
}

/** How logs and `/readyz` name the store and the stream. */
export function dependencyNames(settings: Settings, stream: string): Record<Dependency, string> {
  const store = /^s3a?:\/\//.test(settings.tablesRoot) ? `S3 (${settings.tablesRoot})` : `the tables' folder (${settings.tablesRoot})`;
  return { store, source: `Kinesis (stream '${stream}')` };
}

/** Calls every hook of `a`, then of `b`. */
export function mergeEvents(a: SupervisorEvents, b: SupervisorEvents): SupervisorEvents {
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
