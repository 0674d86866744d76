/**
 * Logging: LogTape, to the console (text, or one JSON object per line) and to an optional
 * rotating file.
 *
 * Every line reaches every sink when it is logged: the file sink writes each record at
 * once (no buffer to lose), and {@link closeLogging} flushes and closes the sinks. Every way
 * out of the process closes them: `main` before it returns its exit code, the shutdown
 * deadline before its forced exit, and LogTape's own exit hook (registered by the
 * synchronous configuration, which can run inside `process.exit`) for anything else.
 * @module
 */
import { getRotatingFileSink } from "@logtape/file";
import { configureSync, getConsoleSink, getLogger, getTextFormatter, type Logger, type LogLevel, type LogRecord, resetSync, type Sink } from "@logtape/logtape";

export interface LoggingOptions {
  level: "debug" | "info" | "warning" | "error";
  /** Console format (the file gets the same). */
  format: "text" | "json";
  /** Log file path; empty for none. Rotated at 10 MiB, 5 files kept. */
  file: string;
}

/** The application's loggers all sit under this category. */
export const ROOT = "data-subscriber";

/**
 * The category (under {@link ROOT}) of a command's progress and result lines, such as
 * `run --once`'s: logged at INFO and shown at every log level, as a command's output is.
 */
export const PROGRESS = "progress";

/** The options logging was set up with, until it is closed. */
let active: LoggingOptions | undefined;

export function logger(...category: string[]): Logger {
  return getLogger([ROOT, ...category]);
}

/**
 * Configures LogTape: console (text or JSON lines) and an optional rotating file, both
 * written line by line.
 * @throws {Error} when the log file cannot be opened (the file system's error).
 */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  const text = getTextFormatter({ timestamp: "date-time-tz", level: "ABBR", category: ".", value: "bare" });
  const formatter = options.format === "json" ? jsonLine : text;
  const sinks: Record<string, Sink> = { console: getConsoleSink({ formatter }) };
  if (options.file) {
    // bufferSize 0: each record is written (and synced) as it is logged, so that nothing
    // waits in memory for a flush that a crash, a kill or a forced exit would skip.
    sinks.file = getRotatingFileSink(options.file, { formatter, maxSize: 10 * 1024 * 1024, maxFiles: 5, bufferSize: 0 });
  }
  // Synchronous: LogTape's exit hook then disposes the sinks synchronously, which works inside
  // `process.exit` (an asynchronous one would not get to run).
  configureSync({
    reset: true,
    sinks,
    loggers: [
      { category: [ROOT], lowestLevel: options.level as LogLevel, sinks: Object.keys(sinks) },
      // A command's progress and result lines (`run --once`): shown whatever the level.
      { category: [ROOT, PROGRESS], lowestLevel: "info", sinks: Object.keys(sinks), parentSinks: "override" },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: Object.keys(sinks) },
    ],
  });
  active = options;
}

/** Whether {@link setupLogging} ran and {@link closeLogging} has not. */
export function loggingActive(): boolean {
  return active !== undefined;
}

/**
 * Flushes and closes every sink (the file is closed), and stops logging: later records go
 * nowhere. Synchronous, so that it can run right before a forced `process.exit`. Safe to
 * call more than once.
 */
export function closeLogging(): void {
  if (!active) return;
  active = undefined;
  try {
    resetSync();
  } catch {
    // LogTape is being reconfigured elsewhere: its exit hook closes the sinks.
  }
}

/**
 * Prints a line meant for the person at the terminal (the demo's story, its summary): as
 * is in text mode; in JSON mode as one JSON object per line (INFO, logger
 * `data-subscriber.<category>`), so that everything on stdout is JSON. Not written to the
 * log file, and not subject to the log level.
 */
export function say(line: string, category = "console"): void {
  if (active?.format !== "json") {
    console.log(line);
    return;
  }
  for (const l of line.split("\n")) {
    if (l.trim() === "") continue;
    console.log(JSON.stringify({ "@timestamp": new Date().toISOString(), level: "INFO", message: l.trim(), logger: `${ROOT}.${category}` }));
  }
}

/**
 * One record as one JSON line: `@timestamp`, `level`, `message`, `logger`, `properties`.
 * The message is rendered with its values bare (a string as itself, not JSON-quoted), so
 * it reads as the same sentence as in text mode; the values are in `properties`.
 */
export function jsonLine(record: LogRecord): string {
  const properties = Object.keys(record.properties).length > 0 ? { properties: record.properties } : {};
  return JSON.stringify(
    {
      "@timestamp": new Date(record.timestamp).toISOString(),
      level: record.level === "warning" ? "WARN" : record.level.toUpperCase(),
      message: renderMessage(record.message),
      logger: record.category.join("."),
      ...properties,
    },
    jsonValue,
  ) + "\n";
}

/** A message's parts (text, value, text, …) as one string, values bare. */
export function renderMessage(parts: readonly unknown[]): string {
  let out = "";
  for (let i = 0; i < parts.length; i++) out += i % 2 === 0 ? String(parts[i]) : bare(parts[i]);
  return out;
}

function bare(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" || v === null || v === undefined) return String(v);
  if (v instanceof Error) return v.message;
  try {
    return JSON.stringify(v, jsonValue) ?? String(v);
  } catch {
    return String(v);
  }
}

function jsonValue(_key: string, v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Error) return { name: v.name, message: v.message };
  return v;
}
