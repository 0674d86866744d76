import * as v from "valibot";
import type { Codec } from "../core/parquet/parquet.ts";
import type { IteratorPosition } from "../ports/record_source.ts";
import { iniGet } from "./ini.ts";
import * as os from "node:os";
import { type CredentialSources, credentialSources } from "../adapters/aws_credentials.ts";

/** A configuration value that is missing or wrong; the message names the key and what was expected. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Where a key's value can come from, highest first: flag, environment, config file, default. */
interface KeySpec {
  /** The flag name without dashes, also the key's name in messages. */
  flag: string;
  env?: string[];
  ini?: [section: string, key: string];
  default?: string;
  /** What it is and takes, for `--help` and the README. */
  doc: string;
  /** valibot schema turning the raw string into the value. */
  schema: v.GenericSchema<string, unknown>;
  /** An empty environment variable is a value (e.g. no log file), not "unset". */
  allowEmpty?: true;
  /** Its flag takes no value: `--name` alone is `true`. */
  boolean?: true;
}

const msg = (expected: string) => expected;

const text = v.pipe(v.string(), v.trim(), v.nonEmpty(msg("a non-empty value")));
const duration = v.pipe(
  v.string(),
  v.regex(/^\d+(\.\d+)?(ms|s|m|h)$/, msg("a positive duration like '500ms', '10s', '2m' or '1h'")),
  v.transform((s) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s)!;
    return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms"];
  }),
  v.check((ms) => ms > 0, msg("a positive duration like '500ms', '10s', '2m' or '1h'")),
);
const size = v.pipe(
  v.string(),
  v.regex(/^\d+(KiB|MiB|GiB|KB|MB|GB|B)?$/, msg("a size like '64MiB', '512KiB' or a number of bytes")),
  v.transform((s) => {
    const m = /^(\d+)(KiB|MiB|GiB|KB|MB|GB|B)?$/.exec(s)!;
    const unit = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[(m[2] ?? "B") as "B"];
    return Number(m[1]) * unit;
  }),
  v.check((n) => n > 0, msg("a positive size")),
);
const positiveInt = v.pipe(
  v.string(),
  v.regex(/^\d+$/, msg("a positive whole number")),
  v.transform(Number),
  v.check((n) => n > 0, msg("a positive whole number")),
);
/** `true`/`false` in any case, or `1`/`0`, `yes`/`no`. */
const bool = v.pipe(
  v.string(),
  v.trim(),
  v.transform((s) => s.toLowerCase()),
  v.picklist(["true", "false", "1", "0", "yes", "no"], msg("true or false")),
  v.transform((s) => s === "true" || s === "1" || s === "yes"),
);
const port = v.pipe(
  v.string(),
  v.regex(/^\d+$/, msg("a TCP port number (0-65535)")),
  v.transform(Number),
  v.check((n) => n >= 0 && n <= 65535, msg("a TCP port number (0-65535)")),
);
const url = v.pipe(v.string(), v.url(msg("a URL like 'http://localhost:4566'")));
/**
 * A folder path, or an `s3://`, `s3a://` or `file://` URI (`memory://` in tests). A value
 * that starts like a URI but is not one (`s3:/bucket`, `s3:bucket`, `s3://`, `ftp://…`) is
 * refused rather than taken for a local folder named `s3:`. The scheme is lower-cased.
 */
const storageUri = v.pipe(
  v.string(),
  v.trim(),
  v.nonEmpty(msg("a folder path or an s3:// / s3a:// / file:// URI")),
  v.check(
    (s) => !/^s3a?:(?!\/\/)/i.test(s),
    (issue) => `an S3 URI with two slashes after the scheme, like '${String(issue.input).replace(/^(s3a?):\/?/i, "$1://")}'`,
  ),
  v.check((s) => !/^s3a?:\/\/(\/|$)/i.test(s), msg("an S3 URI with a bucket name, like 's3://my-bucket' or 's3://my-bucket/prefix'")),
  v.check(
    (s) => !/^s3a?:\/\//i.test(s) || /^s3a?:\/\/[A-Za-z0-9._-]+(\/|$)/i.test(s),
    msg("an S3 URI whose bucket name has letters, digits, '.', '-' and '_' only, like 's3://my-bucket/prefix'"),
  ),
  v.check(
    (s) => !/^[a-z][a-z0-9+.-]+:/i.test(s) || /^(s3a?|file|memory):\/\//i.test(s),
    msg("a folder path or an s3:// / s3a:// / file:// URI (a folder whose name has ':' can be written './name')"),
  ),
  v.transform((s) => s.replace(/^[a-z0-9+.-]+:\/\//i, (scheme) => scheme.toLowerCase())),
);
/** TRIM_HORIZON, LATEST or AT_TIMESTAMP:<time>, in any case, with '_' or '-' (`latest`, `trim-horizon`, `at_timestamp:…`). */
const position = v.pipe(
  v.string(),
  v.trim(),
  v.transform((s) => s.replace(/^[a-z_-]+(?=:|$)/i, (word) => word.toUpperCase().replace(/-/g, "_"))),
  v.regex(/^(TRIM_HORIZON|LATEST|AT_TIMESTAMP:.+)$/, msg("TRIM_HORIZON, LATEST or AT_TIMESTAMP:<ISO-8601 time>")),
  v.transform((s): IteratorPosition => {
    if (s === "TRIM_HORIZON" || s === "LATEST") return { type: s };
    return { type: "AT_TIMESTAMP", timestamp: new Date(s.slice("AT_TIMESTAMP:".length)) };
  }),
  v.check((p) => p.type !== "AT_TIMESTAMP" || !Number.isNaN(p.timestamp.getTime()), msg("AT_TIMESTAMP followed by a valid ISO-8601 time")),
);
/** One of `values`, in any case (`JSON`, `Zstd`). */
const oneOf = <T extends string>(...values: T[]) =>
  v.pipe(v.string(), v.trim(), v.transform((s) => s.toLowerCase()), v.picklist(values, msg(values.map((x) => `'${x}'`).join(", ").replace(/, ([^,]+)$/, " or $1"))));
/** A log level in any case; `warn` is `warning` (Python's and the original job's README write `WARNING`, many tools `WARN`). */
const logLevel = v.pipe(v.string(), v.trim(), v.transform((s) => (s.toLowerCase() === "warn" ? "warning" : s)), oneOf("debug", "info", "warning", "error"));

/** Every configuration key. The README's reference is this table. */
export const KEYS = {
  stream: { flag: "stream", env: ["STREAM_NAME"], ini: ["default", "STREAM_NAME"], doc: "Kinesis stream to read (required for run, produce, status)", schema: text },
  region: { flag: "region", env: ["AWS_REGION", "AWS_DEFAULT_REGION"], ini: ["default", "REGION"], doc: "AWS region (default: the SDK's, from the profile)", schema: text },
  profile: { flag: "profile", env: ["AWS_PROFILE"], doc: "profile in ~/.aws/config and ~/.aws/credentials", schema: text },
  endpointUrl: { flag: "endpoint-url", env: ["AWS_ENDPOINT_URL"], doc: "endpoint for every AWS service (local servers)", schema: url },
  kinesisEndpointUrl: { flag: "kinesis-endpoint-url", env: ["AWS_ENDPOINT_URL_KINESIS"], doc: "endpoint for Kinesis only", schema: url },
  s3EndpointUrl: { flag: "s3-endpoint-url", env: ["AWS_ENDPOINT_URL_S3"], doc: "endpoint for S3 only (path-style addressing is used)", schema: url },
  tablesRoot: { flag: "tables-root", env: ["TABLES_ROOT", "BUCKET_NAME"], ini: ["paths", "BUCKET_NAME"], default: "./data", doc: "where the tables live: folder, file://, s3:// or s3a:// URI", schema: storageUri },
  checkpointsRoot: { flag: "checkpoints-root", env: ["CHECKPOINTS_ROOT"], doc: "where shard checkpoints and leases live (default: <tables-root>/<orders>/delta/<checkpoints>, or <tables-root>/_checkpoints with --tables)", schema: storageUri },
  tablesFile: { flag: "tables", env: ["TABLES_FILE"], doc: "a tables file (.toml, .yaml, .yml or .json) declaring the tables any JSON stream lands in, in place of the order tables", schema: text },
  ordersFolder: { flag: "orders-folder", env: ["ORDERS_FOLDER"], ini: ["paths", "ORDERS"], default: "orders", doc: "top folder of the tables", schema: text },
  bronzeFolder: { flag: "bronze-folder", env: ["BRONZE_FOLDER"], ini: ["paths", "BRONZE"], default: "bronze", doc: "folder of the bronze tables", schema: text },
  goldFolder: { flag: "gold-folder", env: ["GOLD_FOLDER"], ini: ["paths", "GOLD"], default: "gold", doc: "folder of the gold tables", schema: text },
  checkpointsFolder: { flag: "checkpoints-folder", env: ["CHECKPOINTS_FOLDER"], ini: ["paths", "CHECKPOINTS"], default: "checkpoints", doc: "folder of the checkpoints", schema: text },
  eventsTable: { flag: "events-table", env: ["EVENTS_TABLE"], ini: ["table_names", "EVENTS_TABLE"], default: "events", doc: "events table name", schema: text },
  ordersTable: { flag: "orders-table", env: ["ORDERS_TABLE"], ini: ["table_names", "ORDERS_TABLE"], default: "orders", doc: "orders table name", schema: text },
  ordersItemsTable: { flag: "orders-items-table", env: ["ORDERS_ITEMS_TABLE"], ini: ["table_names", "ORDERS_ITEMS_TABLE"], default: "orders_items", doc: "orders_items table name", schema: text },
  packageTable: { flag: "package-table", env: ["PACKAGE_TABLE"], ini: ["table_names", "PACKAGE_TABLE"], default: "package_table", doc: "package_table name", schema: text },
  quarantineTable: { flag: "quarantine-table", env: ["QUARANTINE_TABLE"], ini: ["table_names", "QUARANTINE_TABLE"], default: "quarantine", doc: "quarantine table name", schema: text },
  appName: { flag: "app-name", env: ["APP_NAME"], default: "data-subscriber", doc: "application name in txn ids and checkpoint paths", schema: text },
  workerId: { flag: "worker-id", env: ["WORKER_ID"], doc: "this worker's name in leases (default: host-pid-random)", schema: text },
  initialPosition: { flag: "initial-position", env: ["INITIAL_POSITION"], default: "TRIM_HORIZON", doc: "where a shard without checkpoint starts: TRIM_HORIZON, LATEST, AT_TIMESTAMP:<time> (any case)", schema: position },
  maxBatchRecords: { flag: "max-batch-records", env: ["MAX_BATCH_RECORDS"], default: "10000", doc: "flush a batch at this many records", schema: positiveInt },
  maxBatchBytes: { flag: "max-batch-bytes", env: ["MAX_BATCH_BYTES"], default: "64MiB", doc: "flush a batch at this many bytes", schema: size },
  maxBatchAge: { flag: "max-batch-age", env: ["MAX_BATCH_AGE"], default: "10s", doc: "flush a batch when its oldest record waited this long", schema: duration },
  leaseDuration: { flag: "lease-duration", env: ["LEASE_DURATION"], default: "10s", doc: "a shard whose owner stops renewing for this long is taken over", schema: duration },
  shutdownTimeout: { flag: "shutdown-timeout", env: ["SHUTDOWN_TIMEOUT"], default: "30s", doc: "on SIGTERM/SIGINT: time to flush, commit and release before exiting", schema: duration },
  outageBudget: {
    flag: "outage-budget",
    env: ["OUTAGE_BUDGET"],
    default: "15m",
    doc: "how long S3 or Kinesis may stay unreachable (refused, timing out, 5xx, throttled) before the process exits with code 4; retried with backoff meanwhile",
    schema: duration,
  },
  readyMaxLag: { flag: "ready-max-lag", env: ["READY_MAX_LAG"], default: "5m", doc: "/readyz reports degraded while a shard is further behind the stream's tip than this", schema: duration },
  evolveSchema: {
    flag: "evolve-schema",
    env: ["EVOLVE_SCHEMA"],
    default: "false",
    doc: "add the columns an existing table lacks (nullable, one metaData commit, as Spark's mergeSchema) instead of refusing to start; see the README's migration section",
    schema: bool,
    boolean: true,
  },
  autoCompact: {
    flag: "auto-compact",
    env: ["AUTO_COMPACT"],
    default: "false",
    boolean: true,
    doc: "experimental: compact small files in the background after commits (size tiers of auto-compact-min-files files, at most auto-compact-max-bytes per compaction, one at a time); see the README's Table maintenance",
    schema: bool,
  },
  autoCompactMinFiles: { flag: "auto-compact-min-files", env: ["AUTO_COMPACT_MIN_FILES"], default: "10", doc: "with --auto-compact: files of one size tier of a partition compacted together, at least (also the factor between tiers)", schema: positiveInt },
  autoCompactMaxBytes: { flag: "auto-compact-max-bytes", env: ["AUTO_COMPACT_MAX_BYTES"], default: "64MiB", doc: "with --auto-compact: bytes one compaction reads at most; files of half this size or more are left for tables optimize", schema: size },
  compression: { flag: "compression", env: ["PARQUET_COMPRESSION"], default: "zstd", doc: "Parquet compression: zstd, snappy or none", schema: oneOf("zstd", "snappy", "none") },
  logLevel: { flag: "log-level", env: ["LOG_LEVEL"], default: "info", doc: "debug, info, warning (or warn) or error, in any case", schema: logLevel },
  logFormat: { flag: "log-format", env: ["LOG_FORMAT"], default: "text", doc: "console log format: text or json", schema: oneOf("text", "json") },
  logFile: { flag: "log-file", env: ["LOG_FILE"], default: "app.log", doc: "log file (empty for none), rotated at 10 MiB, 5 kept", schema: v.string(), allowEmpty: true },
  metricsPort: { flag: "metrics-port", env: ["METRICS_PORT"], doc: "serve /metrics, /healthz and /readyz on this port (0: any free port)", schema: port },
} as const satisfies Record<string, KeySpec>;

export type Key = keyof typeof KEYS;
type Out<K extends Key> = v.InferOutput<(typeof KEYS)[K]["schema"]>;

export interface Settings {
  stream?: string;
  region?: string;
  profile?: string;
  endpointUrl?: string;
  kinesisEndpointUrl?: string;
  s3EndpointUrl?: string;
  tablesRoot: string;
  checkpointsRoot: string;
  /** The tables file: when set, the declared domain replaces the order domain. */
  tablesFile?: string;
  ordersFolder: string;
  bronzeFolder: string;
  goldFolder: string;
  checkpointsFolder: string;
  eventsTable: string;
  ordersTable: string;
  ordersItemsTable: string;
  packageTable: string;
  quarantineTable: string;
  appName: string;
  workerId?: string;
  initialPosition: Out<"initialPosition">;
  maxBatchRecords: number;
  maxBatchBytes: number;
  maxBatchAge: number;
  leaseDuration: number;
  shutdownTimeout: number;
  outageBudget: number;
  readyMaxLag: number;
  /** Add the columns an existing table lacks instead of refusing to start. */
  evolveSchema: boolean;
  autoCompact: boolean;
  autoCompactMinFiles: number;
  autoCompactMaxBytes: number;
  compression: Codec;
  logLevel: Out<"logLevel">;
  logFormat: Out<"logFormat">;
  logFile: string;
  metricsPort?: number;
  /** What the AWS SDK's credential chain reads (from the environment), for the message when it finds nothing. */
  credentialSources?: CredentialSources;
}

export interface Sources {
  flags: Partial<Record<Key, string>>;
  env: Record<string, string | undefined>;
  ini?: Record<string, Record<string, string>>;
}

/**
 * Resolves every key from flags, then environment, then the config file, then its
 * default, and checks it.
 * @throws {ConfigError} naming the first bad key, where its value came from, the value and what was expected.
 */
export function resolveSettings(src: Sources): Settings {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(KEYS) as [Key, KeySpec][]) {
    const { raw, from } = lookUp(name, src);
    if (raw === undefined) continue;
    const res = v.safeParse(spec.schema, raw);
    if (!res.success) {
      const shown = isSecretLike(raw) ? "<hidden>" : `'${raw}'`;
      throw new ConfigError(`Cannot start: '${spec.flag}' (from ${from}) must be ${res.issues[0].message}: got ${shown}`);
    }
    out[name] = res.output;
  }
  const s = out as unknown as Settings;
  s.credentialSources = credentialSources(src.env, os.homedir());
  s.checkpointsRoot ??= s.tablesFile ? joinUri(s.tablesRoot, "_checkpoints") : joinUri(s.tablesRoot, s.ordersFolder, "delta", s.checkpointsFolder);
  return s;
}

/**
 * Where key `name` takes its value from, highest first: its flag, its environment variables,
 * the config file, its default. `from` says which, for messages (`--log-file`, `LOG_FILE`,
 * `[paths] BUCKET_NAME in the config file`, `the default`); `raw` is undefined when none has it.
 */
export function lookUp(name: Key, src: Sources): { raw: string | undefined; from: string } {
  const spec: KeySpec = KEYS[name];
  if (src.flags[name] !== undefined) return { raw: src.flags[name], from: `--${spec.flag}` };
  // An empty variable counts as unset, except for keys where empty means "none".
  const env = spec.env?.find((e) => src.env[e] !== undefined && (src.env[e] !== "" || "allowEmpty" in spec));
  if (env) return { raw: src.env[env], from: env };
  if (spec.ini && src.ini) {
    const value = iniGet(src.ini, spec.ini[0], spec.ini[1]);
    if (value !== undefined) return { raw: value, from: `[${spec.ini[0]}] ${spec.ini[1]} in the config file` };
  }
  if (spec.default !== undefined) return { raw: spec.default, from: "the default" };
  return { raw: undefined, from: "" };
}

/** Values that look like credentials are never echoed back. */
function isSecretLike(raw: string): boolean {
  return /^(AKIA|ASIA)[A-Z0-9]{12,}$/.test(raw) || /^[A-Za-z0-9/+=]{40}$/.test(raw);
}

/** Joins URI or path segments with single slashes. */
export function joinUri(root: string, ...parts: string[]): string {
  return [root.replace(/\/+$/, ""), ...parts.map((p) => p.replace(/^\/+|\/+$/g, ""))].filter((p) => p !== "").join("/");
}

/** The folder (URI) of each table, as the original job laid them out. */
export function tableLocations(s: Settings): Record<"events" | "orders" | "orders_items" | "quarantine" | "package_table", string> {
  const bronze = joinUri(s.tablesRoot, s.ordersFolder, "delta", s.bronzeFolder);
  return {
    events: joinUri(bronze, s.eventsTable),
    orders: joinUri(bronze, s.ordersTable),
    orders_items: joinUri(bronze, s.ordersItemsTable),
    quarantine: joinUri(bronze, s.quarantineTable),
    package_table: joinUri(s.tablesRoot, s.ordersFolder, s.goldFolder, s.packageTable),
  };
}
