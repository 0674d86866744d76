import { getRotatingFileSink } from "@logtape/file";
import { configure, getConsoleSink, getJsonLinesFormatter, getLogger, getTextFormatter, type Logger, type LogLevel, type Sink } from "@logtape/logtape";

export interface LoggingOptions {
  level: "debug" | "info" | "warning" | "error";
  /** Console format. */
  format: "text" | "json";
  /** Log file path; empty for none. Rotated at 10 MiB, 5 files kept. */
  file: string;
}

/** The application's loggers all sit under this category. */
export const ROOT = "data-subscriber";

export function logger(...category: string[]): Logger {
  return getLogger([ROOT, ...category]);
}

/** Configures LogTape once: console (text or JSON lines) and an optional rotating file. */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  const text = getTextFormatter({ timestamp: "date-time-tz", level: "ABBR", category: ".", value: "bare" });
  const json = getJsonLinesFormatter();
  const sinks: Record<string, Sink> = {
    console: getConsoleSink({ formatter: options.format === "json" ? json : text }),
  };
  if (options.file) {
    sinks.file = getRotatingFileSink(options.file, { formatter: options.format === "json" ? json : text, maxSize: 10 * 1024 * 1024, maxFiles: 5 });
  }
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: [ROOT], lowestLevel: options.level as LogLevel, sinks: Object.keys(sinks) },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}
