/**
 * data-subscriber: Kinesis order events into Delta Lake tables, exactly once.
 *
 * The entry point: parses the command line, reads the environment and the config file
 * (nothing else does), wires the parts and maps failures to exit codes: 0 done, 1 failed,
 * 2 bad configuration or usage, 3 a shard is stopped at a gap in the stream (`run --once`:
 * an operator must decide where it goes on, with `checkpoints reset`), 4 S3 or Kinesis
 * stayed unavailable past the outage budget (`run --once`: the tip was not reached), 5 access
 * refused or a bucket, stream or credentials missing.
 */
import * as fs from "node:fs/promises";
import * as readline from "node:readline/promises";
import { parseIni } from "./config/ini.ts";
import { ConfigError, KEYS, type Key, lookUp, resolveSettings, type Settings } from "./config/settings.ts";
import { checkLogFile } from "./config/log_file.ts";
import { type FlagSpec, nearest, parseArgs, UsageError } from "./cli/args.ts";
import { type CompletionSpec, completionScript, installHelp, type Shell, SHELLS } from "./cli/completion.ts";
import { initPackages, packageRows, produce, status } from "./app/commands.ts";
import { dependencyNames, prepareRun } from "./app/run.ts";
import {
  describeTables, formatDescriptions, formatHistory, formatOptimize, formatVacuum, optimizeTables, parsePartitionFilter, parseRetention, tableHistory, vacuumTables,
} from "./app/tables_maintenance.ts";
import { RunHealth } from "./telemetry/run_health.ts";
import { failureKind, OutageError } from "./core/retry/failure_kind.ts";
import { parseRestartPosition, resetCheckpoints, ResetRefusedError, shardStates } from "./app/checkpoints_reset.ts";
import { systemClock } from "./ports/clock.ts";
import { DEMO_EXAMPLES, type DemoExample, runDemo } from "./app/demo.ts";
import type { Metrics } from "./telemetry/metrics.ts";
import { closeLogging, logger, loggingActive, PROGRESS, setupLogging } from "./telemetry/logging.ts";
import { committedSoFar, runMetrics } from "./telemetry/run_telemetry.ts";
import { serveTelemetry } from "./telemetry/http_server.ts";
import type { FaultPoint } from "./engine/fault_point.ts";
import { BUILD_DATE, COMMIT, VERSION } from "./version.ts";

/** What shell completion offers for a key's value: a few fixed values, or files. */
const KEY_VALUES: Partial<Record<Key, { choices?: readonly string[]; file?: true }>> = {
  tablesFile: { file: true },
  initialPosition: { choices: ["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP:"] },
  compression: { choices: ["zstd", "snappy", "none"] },
  logLevel: { choices: ["debug", "info", "warning", "error"] },
  logFormat: { choices: ["text", "json"] },
  logFile: { file: true },
};

/** The flags of configuration keys, documented from {@link KEYS}. */
function keyFlags(...keys: Key[]): FlagSpec[] {
  return keys.map((k) => ({ name: KEYS[k].flag, doc: KEYS[k].doc, ...KEY_VALUES[k], ...("boolean" in KEYS[k] ? { boolean: true } : {}) }));
}

const CONFIG_FLAG: FlagSpec = { name: "config", doc: "INI config file in the original job's format (e.g. .aws/config)", file: true };
const HELP_FLAG: FlagSpec = { name: "help", boolean: true, doc: "show this help" };
/** How to reach AWS. */
const AWS_KEYS: Key[] = ["region", "profile", "endpointUrl", "kinesisEndpointUrl", "s3EndpointUrl"];
/** Where the tables (and the shard states beside them) are. */
const LOCATION_KEYS: Key[] = [
  "tablesRoot", "checkpointsRoot", "tablesFile", "ordersFolder", "bronzeFolder", "goldFolder", "checkpointsFolder",
  "eventsTable", "ordersTable", "ordersItemsTable", "packageTable", "quarantineTable",
];
/** Console logging (the log file is written by run and demo only). */
const LOG_KEYS: Key[] = ["logLevel", "logFormat"];

/** Every configuration key: `run` uses them all. */
const CONFIG_FLAGS: FlagSpec[] = [CONFIG_FLAG, ...keyFlags(...(Object.keys(KEYS) as Key[])), HELP_FLAG];

/** Where the tables are and how to reach S3: the flags of `tables describe`, `history`, `optimize` and `vacuum`. */
const TABLE_FLAGS: FlagSpec[] = [CONFIG_FLAG, ...keyFlags(...LOCATION_KEYS, "region", "profile", "endpointUrl", "s3EndpointUrl", ...LOG_KEYS), HELP_FLAG];
/** The order tables' names, offered by completion as the TABLE arguments. */
const ORDER_TABLE_NAMES = ["events", "orders", "orders_items", "package_table", "quarantine"] as const;

/** Exit codes: the README's list. */
const EXIT = { done: 0, failed: 1, usage: 2, shardStopped: 3, unavailable: 4, access: 5 } as const;

/**
 * The exit code of a failure: 4 when S3 or Kinesis stayed unavailable past the outage
 * budget (a later start may well succeed), 5 when access was refused or a bucket, stream or
 * credentials are missing (a person must fix something), else 1.
 */
function exitCodeFor(err: unknown): number {
  if (err instanceof OutageError) return EXIT.unavailable;
  if (failureKind(err) === "access") return EXIT.access;
  return EXIT.failed;
}

/** The configuration flags that say where the shard states are (and how to reach them). */
const CHECKPOINT_FLAGS: FlagSpec[] = [
  CONFIG_FLAG,
  ...keyFlags("stream", "tablesRoot", "checkpointsRoot", "tablesFile", "ordersFolder", "checkpointsFolder", "appName", "leaseDuration", "region", "profile", "endpointUrl", "s3EndpointUrl", ...LOG_KEYS),
  HELP_FLAG,
];

interface Command {
  summary: string;
  usage: string;
  /** Its flags, and only those: `--help` lists them, completion offers them, others are refused. */
  flags: FlagSpec[];
  /** What it takes as its argument, for completion (`help <command>`, `completion <shell>`); others take none. */
  args?: readonly string[] | "commands";
  /** Lines printed after the options by `--help`. */
  helpNotes?: () => string[];
  action(ctx: { settings: Settings; args: ReturnType<typeof parseArgs>; env: Record<string, string | undefined> }): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  run: {
    summary: "read the stream and keep the tables up to date (until SIGTERM, or --once)",
    usage: "data-subscriber run [--once] [options]",
    flags: [{ name: "once", boolean: true, doc: "read up to the stream's tip as of now, commit and exit 0" }, ...CONFIG_FLAGS],
    action: ({ settings, args, env }) => runCommand(settings, args.booleans.has("once"), env),
  },
  demo: {
    summary: "run everything locally: embedded Kinesis, synthetic records, the subscriber, a summary (--example orders or clickstream)",
    usage: "data-subscriber demo [--example orders|clickstream] [--orders N] [--events N] [--tables-root ./data]",
    flags: [
      {
        name: "example",
        doc: "orders (the order job's five tables) or clickstream (page views into deploy/examples/clickstream.toml's tables, or --tables) (default orders)",
        choices: DEMO_EXAMPLES,
      },
      { name: "orders", doc: "orders to produce (default 3000)" }, { name: "events", doc: "clickstream events to produce (default 2000)" },
      { name: "shards", doc: "shards of the demo stream (default 4)" },
      CONFIG_FLAG,
      ...keyFlags(
        "stream", "tablesRoot", "tablesFile", "ordersFolder", "bronzeFolder", "goldFolder", "checkpointsFolder", "eventsTable", "ordersTable", "ordersItemsTable",
        "packageTable", "quarantineTable", "appName", "maxBatchRecords", "maxBatchBytes", "maxBatchAge", "leaseDuration", "outageBudget", "compression", ...LOG_KEYS, "logFile",
      ),
      HELP_FLAG,
    ],
    action: ({ settings, args }) => runDemo(settings, {
      example: example(args.values.example),
      orders: int(args.values.orders, "orders", 3000), events: int(args.values.events, "events", 2000), shards: int(args.values.shards, "shards", 4),
    }),
  },
  produce: {
    summary: "put N synthetic orders on the stream at a rate, like the original publisher",
    usage: "data-subscriber produce [--count N] [--rate R] [--bad N] [--seed S] [--example orders|clickstream]",
    flags: [
      { name: "count", doc: "records to put (default 1000)" }, { name: "rate", doc: "records per second, 0 for as fast as possible (default 0)" },
      { name: "bad", doc: "broken records to mix in (default 0)" }, { name: "seed", doc: "generator seed (default: random)" },
      { name: "example", doc: "orders, or clickstream page views for deploy/examples/clickstream.toml (default orders)", choices: DEMO_EXAMPLES },
      CONFIG_FLAG, ...keyFlags("stream", ...AWS_KEYS, ...LOG_KEYS), HELP_FLAG,
    ],
    async action({ settings, args }) {
      const n = await produce(settings, {
        count: int(args.values.count, "count", 1000), rate: int(args.values.rate, "rate", 0), bad: int(args.values.bad, "bad", 0),
        seed: int(args.values.seed, "seed", Math.floor(Math.random() * 2 ** 31)), example: example(args.values.example),
      }, logger("produce"));
      console.log(`Put ${n} records on ${settings.stream}.`);
      return 0;
    },
  },
  status: {
    summary: "per shard: owner, checkpoint, lag; per table: version, files, rows (--json: one JSON document)",
    usage: "data-subscriber status [--json] [options]",
    flags: [
      { name: "json", boolean: true, doc: "print one JSON document: shards (state, owner, lease expiry, batch, position, lag) and tables (version, files, rows)" },
      CONFIG_FLAG, ...keyFlags("stream", ...LOCATION_KEYS, "appName", "initialPosition", "leaseDuration", ...AWS_KEYS, ...LOG_KEYS), HELP_FLAG,
    ],
    async action({ settings, args }) {
      console.log(await status(settings, { json: args.booleans.has("json") }));
      return 0;
    },
  },
  "tables init-packages": {
    summary: "create package_table from a JSON or CSV file (--from), or the demo catalog (--demo)",
    usage: "data-subscriber tables init-packages (--from packages.json|.csv | --demo [--stock N]) [--replace]",
    flags: [
      { name: "from", doc: "the packages: a JSON array, JSON lines or CSV with a header (package_id, subpackage_id, name, width, height, length, weight, volume, stock_quantity)", file: true },
      { name: "demo", boolean: true, doc: "the demo catalog of synthetic packages instead of --from (for trying things out, never for a real package_table)" },
      { name: "stock", doc: "with --demo: stock_quantity of each demo row (default 1000)" },
      { name: "replace", boolean: true, doc: "overwrite the rows of an existing package_table" },
      CONFIG_FLAG, ...keyFlags("tablesRoot", "ordersFolder", "goldFolder", "packageTable", "region", "profile", "endpointUrl", "s3EndpointUrl", ...LOG_KEYS), HELP_FLAG,
    ],
    async action({ settings, args }) {
      const rows = await packageRows(packagesSource(args.values.from, args.booleans.has("demo"), args.values.stock));
      const res = await initPackages(settings, rows, args.booleans.has("replace"));
      console.log(`package_table at ${res.url}: ${res.rows} rows (version ${res.version}).`);
      return 0;
    },
  },
  "tables describe": {
    summary: "per table: version, protocol, live and small files, files awaiting vacuum, last checkpoint, optimize and vacuum, retention properties",
    usage: "data-subscriber tables describe [TABLE...] [--json] [--target-size 128MiB]",
    flags: [
      { name: "json", boolean: true, doc: "print one JSON document: {tables: [...]} (see the README)" },
      { name: "target-size", doc: "a live file smaller than this counts as small (default 128MiB)" },
      ...TABLE_FLAGS,
    ],
    args: ORDER_TABLE_NAMES,
    helpNotes: () => ["TABLE: a table's name (default: every table, as status lists them), or its folder or URI."],
    async action({ settings, args }) {
      const target = args.values["target-size"];
      const tables = await describeTables(settings, args.positionals, target !== undefined ? { targetFileSize: byteSize(target, "target-size") } : {});
      console.log(args.booleans.has("json") ? JSON.stringify({ tables }, null, 2) : formatDescriptions(tables));
      return EXIT.done;
    },
  },
  "tables history": {
    summary: "a table's commits, newest first, as Spark's DESCRIBE HISTORY shows them (--json for scripts)",
    usage: "data-subscriber tables history TABLE [--limit N] [--json]",
    flags: [
      { name: "limit", doc: "at most this many commits, the newest (default: every commit still in the log)" },
      { name: "json", boolean: true, doc: "print one JSON document: {name, url, history: [{version, timestamp, operation, operationParameters, ...}]}" },
      ...TABLE_FLAGS,
    ],
    args: ORDER_TABLE_NAMES,
    helpNotes: () => ["TABLE: a table's name, or its folder or URI."],
    async action({ settings, args }) {
      if (args.positionals.length !== 1) {
        throw new UsageError(`'tables history' needs one table: got ${args.positionals.length === 0 ? "none" : `'${args.positionals.join(" ")}'`} (see 'tables history --help')`);
      }
      const limit = args.values.limit;
      if (limit !== undefined && !/^[1-9]\d*$/.test(limit)) throw new UsageError(`'--limit' must be a whole number of 1 or more: got '${limit}'`);
      const h = await tableHistory(settings, args.positionals[0]!, limit !== undefined ? Number(limit) : undefined);
      console.log(args.booleans.has("json") ? JSON.stringify(h, null, 2) : formatHistory(h));
      return EXIT.done;
    },
  },
  "tables optimize": {
    summary: "compact small files into files of the target size (OPTIMIZE, dataChange false); safe beside running subscribers",
    usage: "data-subscriber tables optimize [TABLE...] [--where 'col=value'] [--target-size 128MiB] [--min-files N] [--json]",
    flags: [
      { name: "where", doc: "only the partitions matching: \"order_date = '2026-01-01'\", \"region IS NULL\", joined by AND (partition columns only)" },
      { name: "target-size", doc: "files smaller than this are compacted, into files of about this size (default 128MiB)" },
      { name: "min-files", doc: "compact a partition only when it holds at least this many small files (default 2)" },
      { name: "json", boolean: true, doc: "print one JSON document: {tables: [{name, url, version, numRemovedFiles, numAddedFiles, filesBefore, filesAfter, ...}]}" },
      ...TABLE_FLAGS,
    ],
    args: ORDER_TABLE_NAMES,
    helpNotes: () => [
      "TABLE: a table's name (default: every table, as status lists them), or its folder or URI.",
      "Per partition, the live files below the target size are packed, smallest first, into bins of up to the target size;",
      "each bin becomes one file, and one commit (Spark's OPTIMIZE commitInfo) removes the old files and adds the new ones",
      "with dataChange false. Appends committed meanwhile never conflict; a bin whose file another commit removed meanwhile",
      "is dropped. The old files stay for time travel until 'tables vacuum' deletes them after the retention.",
      "Every table's features are checked before any is changed: a feature optimize does not understand (deletion vectors,",
      "column mapping, ...) exits 1 naming it and changes nothing anywhere.",
    ],
    async action({ settings, args }) {
      const json = args.booleans.has("json");
      const where = args.values.where;
      const target = args.values["target-size"];
      const minFiles = args.values["min-files"];
      if (minFiles !== undefined && !/^[1-9]\d*$/.test(minFiles)) throw new UsageError(`'--min-files' must be a whole number of 1 or more: got '${minFiles}'`);
      const reports = await optimizeTables(settings, args.positionals, {
        ...(where !== undefined ? { partitionFilter: parsePartitionFilter(where) } : {}),
        ...(target !== undefined ? { targetFileSize: byteSize(target, "target-size") } : {}),
        ...(minFiles !== undefined ? { minFiles: Number(minFiles) } : {}),
      }, json ? undefined : (r) => console.log(formatOptimize(r)));
      if (json) console.log(JSON.stringify({ tables: reports }, null, 2));
      return EXIT.done;
    },
  },
  "tables vacuum": {
    summary: "delete files no version within the retention references (orphans of crashed writers too); --dry-run lists them",
    usage: "data-subscriber tables vacuum [TABLE...] [--retain DURATION] [--dry-run] [--force] [--json]",
    flags: [
      { name: "retain", doc: "keep files removed, or written, within this long: 168h, 7d, 'interval 7 days' (default: each table's delta.deletedFileRetentionDuration, 7 days)" },
      { name: "dry-run", boolean: true, doc: "list the files that would be deleted; delete nothing, commit nothing" },
      { name: "force", boolean: true, doc: "allow a retention shorter than the table's delta.deletedFileRetentionDuration (files a running writer has not committed yet may go)" },
      { name: "json", boolean: true, doc: "print one JSON document: {tables: [{name, url, retentionMs, files: [{key, size, lastModified}], ...}]}" },
      ...TABLE_FLAGS,
    ],
    args: ORDER_TABLE_NAMES,
    helpNotes: () => [
      "TABLE: a table's name (default: every table, as status lists them), or its folder or URI.",
      "Every table is checked before any is vacuumed: a retention below a table's own without --force (exit 2), or a table",
      "feature vacuum does not understand (exit 1, naming it), deletes nothing anywhere. Deleting needs s3:DeleteObject on the",
      "tables' data files (deploy/iam-policy-maintenance.json).",
    ],
    async action({ settings, args }) {
      const retain = args.values.retain;
      const json = args.booleans.has("json");
      const reports = await vacuumTables(settings, args.positionals, {
        ...(retain !== undefined ? { retentionMs: parseRetention(retain) } : {}),
        dryRun: args.booleans.has("dry-run"),
        force: args.booleans.has("force"),
      }, json ? undefined : (r) => console.log(formatVacuum(r)));
      if (json) console.log(JSON.stringify({ tables: reports }, null, 2));
      return EXIT.done;
    },
  },
  "checkpoints reset": {
    summary: "resume stopped shards (or move shards on) at the trim horizon, the tip or a time: an operator's decision",
    usage: "data-subscriber checkpoints reset (--shard ID | --all) --to trim-horizon|latest|<time> [--force] [--yes]",
    flags: [
      { name: "shard", doc: "the shard to reset, e.g. shardId-000000000003" },
      { name: "all", boolean: true, doc: "every shard of the stream that has a checkpoint (finished ones are left alone)" },
      {
        name: "to",
        doc: "where the shards restart: trim-horizon (the oldest record the stream has), latest (records put from now on), or a time like 2026-01-01T00:00:00Z (the first record that arrived at or after it)",
      },
      { name: "force", boolean: true, doc: "reset even while a worker holds the lease of an affected shard (its work in progress is then refused)" },
      { name: "yes", boolean: true, doc: "do not ask for confirmation (required when stdin is not a terminal)" },
      ...CHECKPOINT_FLAGS,
    ],
    async action({ settings, args }) {
      const shard = args.values.shard;
      const all = args.booleans.has("all");
      if ((shard === undefined) === !all) throw new UsageError("'checkpoints reset' needs '--shard ID' or '--all', not both (see 'checkpoints reset --help')");
      const to = parseRestartPosition(args.values.to);
      const yes = args.booleans.has("yes");
      if (!yes && !process.stdin.isTTY) {
        throw new UsageError("'checkpoints reset' changes where shards resume, and may skip records for good: it asks for confirmation on a terminal; pass --yes to confirm when stdin is not one");
      }
      const reset = await resetCheckpoints(shardStates(settings), { shards: all ? "all" : [shard!], to, force: args.booleans.has("force"), leaseDurationMs: settings.leaseDuration }, {
        clock: systemClock,
        print: (line) => console.log(line),
        ...(yes ? {} : { confirm: confirmOnTerminal }),
      });
      console.log(`Reset ${reset.length} shard(s) of ${settings.stream}; running subscribers take them at their next lease round.`);
      return EXIT.done;
    },
  },
  completion: {
    summary: "print a shell completion script for bash, zsh or fish",
    usage: "data-subscriber completion bash|zsh|fish",
    flags: [HELP_FLAG],
    args: SHELLS,
    helpNotes: () => installHelp("data-subscriber"),
    action({ args }) {
      const shell = args.positionals[0];
      if (args.positionals.length !== 1 || !(SHELLS as readonly string[]).includes(shell!)) {
        throw new UsageError(`'completion' needs one shell, ${SHELLS.map((x) => `'${x}'`).join(", ")}: got ${shell === undefined ? "none" : `'${args.positionals.join(" ")}'`} (see 'completion --help')`);
      }
      process.stdout.write(completionScript(shell as Shell, completionSpec()));
      return Promise.resolve(0);
    },
  },
  version: {
    summary: "print the version",
    usage: "data-subscriber version",
    flags: [HELP_FLAG],
    action: () => (console.log(`data-subscriber ${VERSION} (commit ${COMMIT}, built ${BUILD_DATE})`), Promise.resolve(0)),
  },
  help: { summary: "show this help, or a command's", usage: "data-subscriber help [command [subcommand]]", flags: [HELP_FLAG], args: "commands", action: () => (console.log(mainHelp()), Promise.resolve(0)) },
};

/** Groups of subcommands (`tables init-packages`): what `tables --help` says of the group. */
const GROUPS: Record<string, string> = {
  tables: "create the tables that must exist before the first run; describe, show the history of, optimize and vacuum the tables",
  checkpoints: "change the shard checkpoints (where each shard resumes): an operator's decisions",
};

/** The command table as shell completion sees it. */
function completionSpec(): CompletionSpec {
  return {
    program: "data-subscriber",
    commands: Object.entries(COMMANDS).map(([name, c]) => ({ name, summary: c.summary, flags: c.flags, ...(c.args ? { args: c.args } : {}) })),
    groups: GROUPS,
  };
}

/**
 * Where `tables init-packages` takes its rows: a file (`--from`), or the demo catalog only when
 * asked for by name (`--demo`): demo rows in a real package_table would pass for stock.
 * @throws {UsageError} for neither, both, or `--stock` without `--demo`.
 */
function packagesSource(from: string | undefined, demo: boolean, stock: string | undefined): { from: string } | { demo: true; stock: number } {
  if (from !== undefined && demo) throw new UsageError("'tables init-packages' takes '--from <file>' or '--demo', not both (see 'tables init-packages --help')");
  if (stock !== undefined && !demo) {
    throw new UsageError("'--stock' sets the stock of the demo catalog's rows, so it goes with '--demo'; rows from '--from' have their own stock_quantity (see 'tables init-packages --help')");
  }
  if (demo) return { demo: true, stock: int(stock, "stock", 1000) };
  if (from === undefined) {
    throw new UsageError(
      "'tables init-packages' needs '--from <file>': a JSON array, JSON lines or CSV file with the packages and their stock_quantity. " +
        "For the demo catalog of synthetic packages, pass '--demo' (never into a real package_table) (see 'tables init-packages --help')",
    );
  }
  return { from };
}

/** `128MiB`, `512KiB`, `1GB` or a number of bytes. */
function byteSize(raw: string, name: string): number {
  const m = /^(\d+)(KiB|MiB|GiB|KB|MB|GB|B)?$/.exec(raw);
  if (!m || Number(m[1]) === 0) throw new UsageError(`'--${name}' must be a size like '128MiB', '512KiB' or a number of bytes above 0: got '${raw}'`);
  return Number(m[1]) * { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[(m[2] ?? "B") as "B"];
}

function int(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new UsageError(`'--${name}' must be a whole number: got '${raw}'`);
  return Number(raw);
}

function example(raw: string | undefined): DemoExample {
  if (raw === undefined) return "orders";
  if (!(DEMO_EXAMPLES as readonly string[]).includes(raw)) throw new UsageError(`'--example' must be ${DEMO_EXAMPLES.map((e) => `'${e}'`).join(" or ")}: got '${raw}'`);
  return raw as DemoExample;
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    `data-subscriber ${VERSION}: Kinesis order events (or any JSON stream, with --tables) into Delta Lake tables, exactly once.`,
    "",
    "Usage: data-subscriber <command> [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "Run 'data-subscriber <command> --help' (or 'data-subscriber help <command>') for a command's options;",
    "'data-subscriber completion --help' for shell completion.",
  ].join("\n");
}

/** `tables --help`: the group's subcommands. */
function groupHelp(group: string): string {
  const subs = Object.entries(COMMANDS).filter(([name]) => name.startsWith(`${group} `)).map(([name, c]) => [name.slice(group.length + 1), c.summary] as const);
  const width = Math.max(...subs.map(([sub]) => sub.length));
  return [
    `${group}: ${GROUPS[group]}`,
    "",
    `Usage: data-subscriber ${group} <subcommand> [options]`,
    "",
    "Subcommands:",
    ...subs.map(([sub, summary]) => `  ${sub.padEnd(width)}  ${summary}`),
    "",
    `Run 'data-subscriber ${group} <subcommand> --help' for a subcommand's options.`,
  ].join("\n");
}

/**
 * The command `argv` names, and the words after it; or a group's help (`tables --help`); or a
 * usage error naming the unknown command or subcommand, with the nearest known one.
 */
function resolveCommand(argv: readonly string[]): { name: string; rest: string[] } | { group: string } | { error: string } {
  const first = argv[0];
  if (first === undefined || first === "--help") return { name: "help", rest: argv.slice(1) };
  if (first === "--version") return { name: "version", rest: argv.slice(1) };
  if (Object.hasOwn(GROUPS, first)) {
    const subs = Object.keys(COMMANDS).filter((n) => n.startsWith(`${first} `)).map((n) => n.slice(first.length + 1));
    const sub = argv[1];
    if (sub === undefined || sub.startsWith("--")) {
      if (argv.includes("--help")) return { group: first };
      return { error: `'${first}' needs a subcommand: ${subs.map((x) => `'${first} ${x}'`).join(", ")}\n\n${groupHelp(first)}` };
    }
    if (!subs.includes(sub)) {
      const near = nearest(sub, subs) ?? subs.find((x) => x.startsWith(sub));
      return { error: `Unknown subcommand '${sub}' of '${first}'${near ? `: did you mean '${first} ${near}'?` : ""}\n\n${groupHelp(first)}` };
    }
    return { name: `${first} ${sub}`, rest: argv.slice(2) };
  }
  if (!Object.hasOwn(COMMANDS, first)) {
    const near = nearest(first, [...Object.keys(COMMANDS).filter((n) => !n.includes(" ")), ...Object.keys(GROUPS)]);
    return { error: `Unknown command '${first}'${near ? `: did you mean '${near}'?` : ""}\n\n${mainHelp()}` };
  }
  return { name: first, rest: argv.slice(1) };
}

function commandHelp(name: string, c: Command): string {
  const flagWidth = Math.max(0, ...c.flags.map((f) => f.name.length + (f.boolean ? 2 : 8)));
  const env = (f: FlagSpec) => {
    const k = Object.values(KEYS).find((x) => x.flag === f.name) as { env?: readonly string[]; default?: string } | undefined;
    const bits = [k?.env?.length ? `env ${k.env.join(", ")}` : "", k?.default !== undefined ? `default '${k.default}'` : ""].filter(Boolean);
    return bits.length ? ` [${bits.join("; ")}]` : "";
  };
  return [
    `${name}: ${c.summary}`,
    "",
    `Usage: ${c.usage}`,
    "",
    "Options:",
    ...c.flags.map((f) => `  --${(f.name + (f.boolean ? "" : " <value>")).padEnd(flagWidth)}  ${f.doc}${env(f)}`),
    ...(c.helpNotes ? ["", ...c.helpNotes()] : []),
  ].join("\n");
}

/** Runs the CLI; @returns the exit code. Every log sink is flushed and closed before it returns. */
export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  try {
    return await cli(argv, env);
  } finally {
    closeLogging();
  }
}

async function cli(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  argv = argv.map((a) => (a === "-h" ? "--help" : a));
  const resolved = resolveCommand(argv);
  if ("error" in resolved) {
    console.error(resolved.error);
    return EXIT.usage;
  }
  if ("group" in resolved) {
    console.log(groupHelp(resolved.group));
    return EXIT.done;
  }
  const { name, rest } = resolved;
  const command = COMMANDS[name]!;
  try {
    // help <command> [subcommand]
    const asked = rest.filter((a) => !a.startsWith("--"));
    if (name === "help" && asked.length > 0) {
      const target = resolveCommand([...asked, "--help"]);
      if ("error" in target) throw new UsageError(target.error);
      if ("group" in target) console.log(groupHelp(target.group));
      else if (target.rest.some((a) => !a.startsWith("--"))) throw new UsageError(`'help' takes a command: got '${asked.join(" ")}' (see 'data-subscriber help')`);
      else console.log(commandHelp(target.name, COMMANDS[target.name]!));
      return EXIT.done;
    }
    const args = parseArgs(rest, command.flags, name);
    if (args.booleans.has("help")) {
      console.log(commandHelp(name, command));
      return 0;
    }
    if (args.positionals.length > 0 && !command.args) throw new UsageError(`'${name}' takes no argument '${args.positionals[0]}' (see '${name} --help')`);
    const flags: Partial<Record<Key, string>> = {};
    for (const [k, spec] of Object.entries(KEYS) as [Key, { flag: string; boolean?: true }][]) {
      const value = spec.boolean ? (args.booleans.has(spec.flag) ? "true" : undefined) : args.values[spec.flag];
      if (value !== undefined) flags[k] = value;
    }
    const configPath = args.values.config ?? env.CONFIG_FILE;
    let ini: Record<string, Record<string, string>> | undefined;
    if (configPath) {
      let text: string;
      try {
        text = await fs.readFile(configPath, "utf8");
      } catch (err) {
        throw new ConfigError(`Cannot start: the config file '${configPath}' cannot be read: ${(err as Error).message}`);
      }
      try {
        ini = parseIni(text, configPath);
      } catch (err) {
        throw new ConfigError(`Cannot start: ${(err as Error).message}`);
      }
    }
    const sources = { flags, env, ...(ini ? { ini } : {}) };
    const settings = resolveSettings(sources);
    // An unusable log file is a configuration error naming the setting, before logging starts.
    if (name === "run" || name === "demo") await checkLogFile(settings.logFile, lookUp("logFile", sources).from);
    if (name !== "version" && name !== "help") await setupLogging({ level: settings.logLevel, format: settings.logFormat, file: name === "run" || name === "demo" ? settings.logFile : "" });
    return await command.action({ settings, args, env });
  } catch (err) {
    if (err instanceof ConfigError) {
      // Once, and through the log when it is set up (JSON in JSON mode, and in app.log).
      if (loggingActive()) logger().error("{message}", { message: err.message });
      else console.error(err.message);
      return 2;
    }
    if (err instanceof ResetRefusedError) {
      // An operator's command that did nothing, and says why: not a failure to log.
      console.error(err.message);
      return EXIT.failed;
    }
    // Printed once: through the log when it is set up (JSON in JSON mode, and in app.log).
    const error = err instanceof Error ? err.message : String(err);
    if (loggingActive()) logger().error("data-subscriber {command} failed: {error}", { command: name, error, errorType: err instanceof Error ? err.name : typeof err });
    else console.error(`Error: ${error}`);
    return exitCodeFor(err);
  }
}

async function runCommand(settings: Settings, once: boolean, env: Record<string, string | undefined>): Promise<number> {
  const log = logger("run");
  const metrics = runMetrics();
  const ctl = new AbortController();
  let stopping = false;
  const onSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info("Received {signal}: stopping reading, committing what was read, releasing leases (deadline {ms} ms).", { signal: sig, ms: settings.shutdownTimeout });
    ctl.abort();
    setTimeout(() => {
      log.error("Shutdown did not finish within {ms} ms; exiting. Uncommitted batches are replayed on the next start.", { ms: settings.shutdownTimeout });
      closeLogging();
      process.exit(1);
    }, settings.shutdownTimeout).unref?.();
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  if (env.ENVIRONMENT === "GITHUB_ACTIONS") log.info("ENVIRONMENT=GITHUB_ACTIONS: credentials come from the environment (the SDK's default chain reads them first).");
  const fault = faultHook(env.DS_TEST_FAULT);
  const health = new RunHealth({ clock: systemClock, readyMaxLagMs: settings.readyMaxLag, names: dependencyNames(settings, settings.stream ?? "") });
  // Served from the start: while start-up waits out an outage, /readyz says so.
  let server: Awaited<ReturnType<typeof serveTelemetry>> | undefined;
  if (settings.metricsPort !== undefined) {
    server = await serveTelemetry(settings.metricsPort, metrics, health);
    log.info("Serving /metrics, /healthz and /readyz on port {port}.", { port: server.port });
  }
  let prepared: Awaited<ReturnType<typeof prepareRun>>;
  try {
    prepared = await prepareRun(settings, { metrics, ...(fault ? { fault } : {}), events: health.events() });
  } catch (err) {
    await server?.close();
    throw err;
  }
  const { supervisor, sink } = prepared;
  const tables = sink.tableNames;
  const progress = once ? setInterval(() => logProgress(metrics, tables), 2000) : undefined;
  const started = Date.now();
  try {
    await supervisor.run(ctl.signal, { once });
  } finally {
    if (progress) clearInterval(progress);
    // A compaction in flight stops between files; what it wrote is left for vacuum.
    await prepared.compactor?.close();
    await server?.close();
  }
  const secs = (Date.now() - started) / 1000;
  logProgress(metrics, tables, secs);
  const stopped = supervisor.stoppedShards();
  if (once && stopped.size > 0) {
    log.error("{count} shard(s) stopped at a gap in the stream, operator action needed (see 'data-subscriber status'): {shards}", {
      count: stopped.size,
      shards: [...stopped].map(([id, s]) => `${id}: ${s.reason}`).join("; "),
    });
    return EXIT.shardStopped;
  }
  return EXIT.done;
}

/** Shows the plan and asks for a typed "yes" on the terminal. */
async function confirmOnTerminal(plan: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${plan}\nReset these shard(s)? Type 'yes' to go on: `);
    return answer.trim().toLowerCase() === "yes";
  } finally {
    rl.close();
  }
}

/**
 * Logs `Progress: N records committed in B batches; rows <table>=<rows> …` for the domain's
 * tables (quarantine and the prepare step's included); with `doneInSeconds`, the run's last
 * line. In the progress category: shown at every log level.
 */
function logProgress(m: Metrics, tables: readonly string[], doneInSeconds?: number): void {
  const log = logger(PROGRESS);
  const { records, batches, rows } = committedSoFar(m, tables);
  const perTable = Object.entries(rows).map(([t, n]) => `${t}=${n}`).join(" ");
  if (doneInSeconds === undefined) log.info("Progress: {records} records committed in {batches} batches; rows {rows}.", { records, batches, rows: perTable });
  else log.info("Done in {seconds} s: {records} records committed in {batches} batches; rows {rows}.", { seconds: Math.round(doneInSeconds * 10) / 10, records, batches, rows: perTable });
}

/**
 * Test hook: `DS_TEST_FAULT=<point>:<n>` kills this process with SIGKILL the n-th time
 * the run reaches that point (after-files, between-tables, after-commits, during-advance).
 */
function faultHook(spec: string | undefined): ((p: FaultPoint) => void) | undefined {
  if (!spec) return undefined;
  const [point, n] = spec.split(":");
  let hits = 0;
  return (p) => {
    if (p === point && ++hits >= Number(n ?? 1)) process.kill(process.pid, "SIGKILL");
  };
}

if (import.meta.main) {
  process.exit(await main(process.argv.slice(2), process.env));
}
