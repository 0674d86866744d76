/**
 * data-subscriber: Kinesis order events into Delta Lake tables, exactly once.
 *
 * The entry point: parses the command line, reads the environment and the config file
 * (nothing else does), wires the parts and maps failures to exit codes: 0 done, 1 failed,
 * 2 bad configuration or usage, 3 a shard is stopped at a gap in the stream (`run --once`:
 * an operator must decide where it goes on, with `checkpoints reset`).
 */
import * as fs from "node:fs/promises";
import * as readline from "node:readline/promises";
import { getLogger } from "@logtape/logtape";
import { parseIni } from "./config/ini.ts";
import { ConfigError, KEYS, type Key, resolveSettings, type Settings } from "./config/settings.ts";
import { type FlagSpec, nearest, parseArgs, UsageError } from "./cli/args.ts";
import { initPackages, packageRows, produce, status } from "./app/commands.ts";
import { prepareRun } from "./app/run.ts";
import { parseRestartPosition, resetCheckpoints, ResetRefusedError, shardStates } from "./app/checkpoints_reset.ts";
import { systemClock } from "./ports/clock.ts";
import { DEMO_EXAMPLES, type DemoExample, runDemo } from "./app/demo.ts";
import { Metrics } from "./telemetry/metrics.ts";
import { logger, setupLogging } from "./telemetry/logging.ts";
import { serveTelemetry } from "./telemetry/http_server.ts";
import type { FaultPoint } from "./engine/fault_point.ts";
import { BUILD_DATE, COMMIT, VERSION } from "./version.ts";

const CONFIG_FLAGS: FlagSpec[] = [
  { name: "config", doc: "INI config file in the original job's format (e.g. .aws/config)" },
  ...Object.values(KEYS).map((k) => ({ name: k.flag, doc: k.doc })),
  { name: "help", boolean: true, doc: "show this help" },
];

/** Exit codes: the README's list. */
const EXIT = { done: 0, failed: 1, usage: 2, shardStopped: 3 } as const;

/** The configuration flags that say where the shard states are (and how to reach them). */
const CHECKPOINT_FLAGS: FlagSpec[] = CONFIG_FLAGS.filter((f) =>
  ["config", "stream", "tables-root", "checkpoints-root", "tables", "orders-folder", "checkpoints-folder", "app-name", "lease-duration", "region", "profile", "endpoint-url", "s3-endpoint-url", "log-level", "help"]
    .includes(f.name)
);

interface Command {
  summary: string;
  usage: string;
  flags: FlagSpec[];
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
      { name: "example", doc: "orders (the order job's five tables) or clickstream (page views into deploy/examples/clickstream.toml's tables, or --tables) (default orders)" },
      { name: "orders", doc: "orders to produce (default 3000)" }, { name: "events", doc: "clickstream events to produce (default 2000)" },
      { name: "shards", doc: "shards of the demo stream (default 4)" }, ...CONFIG_FLAGS,
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
      { name: "example", doc: "orders, or clickstream page views for deploy/examples/clickstream.toml (default orders)" }, ...CONFIG_FLAGS,
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
    summary: "per shard: owner, checkpoint, lag; per table: version, files, rows",
    usage: "data-subscriber status [options]",
    flags: CONFIG_FLAGS,
    async action({ settings }) {
      console.log(await status(settings));
      return 0;
    },
  },
  "tables init-packages": {
    summary: "create package_table from a JSON or CSV file (or the demo catalog)",
    usage: "data-subscriber tables init-packages [--from packages.json|.csv] [--stock N] [--replace]",
    flags: [
      { name: "from", doc: "JSON array, JSON lines or CSV with a header (default: the demo catalog)" },
      { name: "stock", doc: "stock_quantity of the demo catalog rows (default 1000)" },
      { name: "replace", boolean: true, doc: "overwrite the rows of an existing package_table" }, ...CONFIG_FLAGS,
    ],
    async action({ settings, args }) {
      const rows = await packageRows(args.values.from, int(args.values.stock, "stock", 1000));
      const res = await initPackages(settings, rows, args.booleans.has("replace"));
      console.log(`package_table at ${res.url}: ${res.rows} rows (version ${res.version}).`);
      return 0;
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
  version: { summary: "print the version", usage: "data-subscriber version", flags: [], action: () => (console.log(`data-subscriber ${VERSION} (commit ${COMMIT}, built ${BUILD_DATE})`), Promise.resolve(0)) },
  help: { summary: "show this help", usage: "data-subscriber help [command]", flags: [], action: () => (console.log(mainHelp()), Promise.resolve(0)) },
};

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
    "Run 'data-subscriber <command> --help' for a command's options.",
  ].join("\n");
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
  ].join("\n");
}

/** Runs the CLI; @returns the exit code. */
export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const words = argv.filter((a) => !a.startsWith("--"));
  let name = words[0] ?? "help";
  if (name === "tables") name = `tables ${words[1] ?? ""}`.trim();
  if (name === "checkpoints") name = `checkpoints ${words[1] ?? ""}`.trim();
  if (argv[0] === "--help" || argv[0] === "-h") name = "help";
  if (argv[0] === "--version") name = "version";
  const command = COMMANDS[name];
  if (!command) {
    const near = nearest(name, Object.keys(COMMANDS));
    console.error(`Unknown command '${name}'${near ? `: did you mean '${near}'?` : ""}\n\n${mainHelp()}`);
    return 2;
  }
  const rest = argv.slice(name.split(" ").length);
  try {
    if (name === "help" && rest[0] && COMMANDS[rest[0]]) {
      console.log(commandHelp(rest[0], COMMANDS[rest[0]]!));
      return 0;
    }
    const args = parseArgs(rest, command.flags, name);
    if (args.booleans.has("help")) {
      console.log(commandHelp(name, command));
      return 0;
    }
    if (args.positionals.length > 0) throw new UsageError(`'${name}' takes no argument '${args.positionals[0]}' (see '${name} --help')`);
    const flags: Partial<Record<Key, string>> = {};
    for (const [k, spec] of Object.entries(KEYS) as [Key, { flag: string }][]) {
      const value = args.values[spec.flag];
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
    const settings = resolveSettings({ flags, env, ...(ini ? { ini } : {}) });
    if (name !== "version" && name !== "help") await setupLogging({ level: settings.logLevel, format: settings.logFormat, file: name === "run" || name === "demo" ? settings.logFile : "" });
    return await command.action({ settings, args, env });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    if (err instanceof ResetRefusedError) {
      // An operator's command that did nothing, and says why: not a failure to log.
      console.error(err.message);
      return EXIT.failed;
    }
    const log = getLogger(["data-subscriber"]);
    log.error("data-subscriber {command} failed: {error}", { command: name, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    console.error(`Error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

async function runCommand(settings: Settings, once: boolean, env: Record<string, string | undefined>): Promise<number> {
  const log = logger("run");
  const metrics = new Metrics();
  const ctl = new AbortController();
  let stopping = false;
  const onSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info("Received {signal}: stopping reading, committing what was read, releasing leases (deadline {ms} ms).", { signal: sig, ms: settings.shutdownTimeout });
    ctl.abort();
    setTimeout(() => {
      log.error("Shutdown did not finish within {ms} ms; exiting. Uncommitted batches are replayed on the next start.", { ms: settings.shutdownTimeout });
      process.exit(1);
    }, settings.shutdownTimeout).unref?.();
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  if (env.ENVIRONMENT === "GITHUB_ACTIONS") log.info("ENVIRONMENT=GITHUB_ACTIONS: credentials come from the environment (the SDK's default chain reads them first).");
  const fault = faultHook(env.DS_TEST_FAULT);
  let lastBatchAt = Date.now();
  const { supervisor, sink } = await prepareRun(settings, {
    metrics,
    ...(fault ? { fault } : {}),
    events: { batchCommitted: () => (lastBatchAt = Date.now()) },
  });
  let server: Awaited<ReturnType<typeof serveTelemetry>> | undefined;
  if (settings.metricsPort !== undefined) {
    server = await serveTelemetry(settings.metricsPort, metrics, {
      check: () => ({ ok: !ctl.signal.aborted, details: { shards: supervisor.leases.heldShards().length, lastBatchAgoMs: Date.now() - lastBatchAt } }),
    });
    log.info("Serving /metrics and /healthz on port {port}.", { port: server.port });
  }
  const tables = sink.tableNames;
  const progress = once ? setInterval(() => console.log(progressLine(metrics, tables)), 2000) : undefined;
  const started = Date.now();
  try {
    await supervisor.run(ctl.signal, { once });
  } finally {
    if (progress) clearInterval(progress);
    await server?.close();
  }
  const secs = (Date.now() - started) / 1000;
  console.log(`${progressLine(metrics, tables)} (done in ${secs.toFixed(1)} s)`);
  const stopped = supervisor.stoppedShards();
  if (once && stopped.size > 0) {
    console.error(
      `${stopped.size} shard(s) stopped at a gap in the stream, operator action needed (see 'data-subscriber status'): ` +
        [...stopped].map(([id, s]) => `${id}: ${s.reason}`).join("; "),
    );
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

/** `progress: N records committed in B batches; rows <table>=<rows> …` for the domain's tables (quarantine and the prepare step's included). */
function progressLine(m: Metrics, tables: readonly string[]): string {
  const rows = tables.map((t) => `${t}=${m.get("ds_rows_written_total", { table: t })}`).join(" ");
  return `progress: ${m.total("ds_records_read_total")} records committed in ${m.total("ds_batches_total")} batches; rows ${rows}`;
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
