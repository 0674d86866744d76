import { ConfigError } from "../config/settings.ts";

/** A command-line flag a command accepts. */
export interface FlagSpec {
  name: string;
  /** Takes no value (`--once`). */
  boolean?: boolean;
  doc: string;
  /** The values it takes, for shell completion (`--log-level debug|info|…`). */
  choices?: readonly string[];
  /** Its value is a file path (shell completion offers files). */
  file?: boolean;
}

export interface Parsed {
  values: Record<string, string>;
  booleans: Set<string>;
  positionals: string[];
}

/** Usage errors exit with code 2, as configuration errors do. */
export class UsageError extends ConfigError {
  override name = "UsageError";
}

/**
 * Parses `--name value`, `--name=value` and boolean `--name` flags.
 * @throws {UsageError} for an unknown flag (with the nearest known one) or a missing value.
 */
export function parseArgs(argv: readonly string[], flags: readonly FlagSpec[], command: string): Parsed {
  const out: Parsed = { values: {}, booleans: new Set(), positionals: [] };
  const known = new Map(flags.map((f) => [f.name, f]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = known.get(name);
    if (!spec) {
      const near = nearest(name, [...known.keys()]);
      throw new UsageError(`Unknown flag '--${name}' for '${command}'${near ? `: did you mean '--${near}'?` : ""} (see '${command} --help')`);
    }
    if (spec.boolean) {
      if (eq >= 0) throw new UsageError(`Flag '--${name}' takes no value`);
      out.booleans.add(name);
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith("--"))) throw new UsageError(`Flag '--${name}' needs a value`);
    out.values[name] = value;
  }
  return out;
}

/** The closest name by edit distance, if it is close enough to be a typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}
