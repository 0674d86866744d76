import * as v from "valibot";
import type { Codec } from "../core/parquet/parquet.ts";
import type { IteratorPosition } from "../ports/record_source.ts";
import { iniGet } from "./ini.ts";

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
const port = v.pipe(
  v.string(),
  v.regex(/^\d+$/, msg("a TCP port number (0-65535)")),
  v.transform(Number),
  v.check((n) => n >= 0 && n <= 65535, msg("a TCP port number (0-65535)")),
);
const url = v.pipe(v.string(), v.url(msg("a URL like 'http://localhost:4566'")));
const storageUri = v.pipe(
  v.string(),
  v.trim(),
  v.nonEmpty(msg("a folder path or an s3:// / s3a:// / file:// URI")),
  v.check((s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^(s3a?|file|memory):\/\//i.test(s), msg("a folder path or an s3:// / s3a:// / file:// URI")),
  v.check((s) => !/^s3a?:\/\/(\/|$)/i.test(s), msg("an S3 URI with a bucket name, like 's3://my-bucket'")),
);
const position = v.pipe(
  v.string(),
  v.regex(/^(TRIM_HORIZON|LATEST|AT_TIMESTAMP:.+)$/, msg("TRIM_HORIZON, LATEST or AT_TIMESTAMP:<ISO-8601 time>")),
  v.transform((s): IteratorPosition => {
    if (s === "TRIM_HORIZON" || s === "LATEST") return { type: s };
    return { type: "AT_TIMESTAMP", timestamp: new Date(s.slice("AT_TIMESTAMP:".length)) };
  }),
  v.check((p) => p.type !== "AT_TIMESTAMP" || !Number.isNaN(p.timestamp.getTime()), msg("AT_TIMESTAMP followed by a valid ISO-8601 time")),
);
const oneOf = <T extends string>(...values: T[]) => v.picklist(values, msg(values.map((x) => `'${x}'`).join(", ").replace(/, ([^,]+)$/, " or $1")));

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
  initialPosition: { flag: "initial-position", env: ["INITIAL_POSITION"], default: "TRIM_HORIZON", doc: "where a shard without checkpoint starts: TRIM_HORIZON, LATEST, AT_TIMESTAMP:<time>", schema: position },
  maxBatchRecords: { flag: "max-batch-records", env: ["MAX_BATCH_RECORDS"], default: "10000", doc: "flush a batch at this many records", schema: positiveInt },
  maxBatchBytes: { flag: "max-batch-bytes", env: ["MAX_BATCH_BYTES"], default: "64MiB", doc: "flush a batch at this many bytes", schema: size },
  maxBatchAge: { flag: "max-batch-age", env: ["MAX_BATCH_AGE"], default: "10s", doc: "flush a batch when its oldest record waited this long", schema: duration },
  leaseDuration: { flag: "lease-duration", env: ["LEASE_DURATION"], default: "10s", doc: "a shard whose owner stops renewing for this long is taken over", schema: duration },
  shutdownTimeout: { flag: "shutdown-timeout", env: ["SHUTDOWN_TIMEOUT"], default: "30s", doc: "on SIGTERM/SIGINT: time to flush, commit and release before exiting", schema: duration },
  compression: { flag: "compression", env: ["PARQUET_COMPRESSION"], default: "zstd", doc: "Parquet compression: zstd, snappy or none", schema: oneOf("zstd", "snappy", "none") },
  logLevel: { flag: "log-level", env: ["LOG_LEVEL"], default: "info", doc: "debug, info, warning or error", schema: oneOf("debug", "info", "warning", "error") },
  logFormat: { flag: "log-format", env: ["LOG_FORMAT"], default: "text", doc: "console log format: text or json", schema: oneOf("text", "json") },
  logFile: { flag: "log-file", env: ["LOG_FILE"], default: "app.log", doc: "log file (empty for none), rotated at 10 MiB, 5 kept", schema: v.string(), allowEmpty: true },
  metricsPort: { flag: "metrics-port", env: ["METRICS_PORT"], doc: "serve /metrics and /healthz on this port (0: any free port)", schema: port },
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
  compression: Codec;
  logLevel: Out<"logLevel">;
  logFormat: Out<"logFormat">;
  logFile: string;
  metricsPort?: number;
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
    let raw: string | undefined;
    let from = "";
    if (src.flags[name] !== undefined) [raw, from] = [src.flags[name], `--${spec.flag}`];
    else {
      // An empty variable counts as unset, except for keys where empty means "none".
      const env = spec.env?.find((e) => src.env[e] !== undefined && (src.env[e] !== "" || "allowEmpty" in spec));
      if (env) [raw, from] = [src.env[env], env];
      else if (spec.ini && src.ini) {
        const value = iniGet(src.ini, spec.ini[0], spec.ini[1]);
        if (value !== undefined) [raw, from] = [value, `[${spec.ini[0]}] ${spec.ini[1]} in the config file`];
      }
    }
    if (raw === undefined && spec.default !== undefined) [raw, from] = [spec.default, "the default"];
    if (raw === undefined) continue;
    const res = v.safeParse(spec.schema, raw);
    if (!res.success) {
      const shown = isSecretLike(raw) ? "<hidden>" : `'${raw}'`;
      throw new ConfigError(`Cannot start: '${spec.flag}' (from ${from}) must be ${res.issues[0].message}: got ${shown}`);
    }
    out[name] = res.output;
  }
  const s = out as unknown as Settings;
  s.checkpointsRoot ??= s.tablesFile ? joinUri(s.tablesRoot, "_checkpoints") : joinUri(s.tablesRoot, s.ordersFolder, "delta", s.checkpointsFolder);
  return s;
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
