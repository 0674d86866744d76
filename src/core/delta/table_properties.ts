/**
 * The Delta table properties this library honours, read from `metaData.configuration`:
 * each with its key, its default (the one Delta applies when the table does not set it)
 * and a parser that checks its text.
 *
 * @example
 * ```ts
 * const every = tableProperty(snapshot.metadata?.configuration, CHECKPOINT_INTERVAL); // 10
 * ```
 * @module
 */
import { TableError } from "./errors.ts";

/** A table property: its key, its value when unset, and how its text is read. */
export interface TableProperty<T> {
  /** The key in `metaData.configuration`, e.g. `delta.checkpointInterval`. */
  readonly key: string;
  /** The value when the table does not set the property. */
  readonly defaultValue: T;
  /**
   * Reads the property's text.
   * @throws {RangeError} saying what was expected and what was found.
   */
  parse(text: string): T;
}

/**
 * `delta.checkpointInterval`: a checkpoint is written at every version that is a multiple
 * of it. A positive integer.
 * @default 10
 */
export const CHECKPOINT_INTERVAL: TableProperty<number> = {
  key: "delta.checkpointInterval",
  defaultValue: 10,
  parse: (text) => parseInteger(text, 1, "a positive integer"),
};

/**
 * `delta.logRetentionDuration`, in milliseconds: how long commits and checkpoints stay in
 * `_delta_log/` (time travel reaches that far back) before the cleanup after a checkpoint
 * deletes them. An interval such as `interval 30 days`.
 * @default 30 days
 */
export const LOG_RETENTION_DURATION: TableProperty<number> = {
  key: "delta.logRetentionDuration",
  defaultValue: 30 * 86_400_000,
  parse: parseInterval,
};

/**
 * `delta.deletedFileRetentionDuration`, in milliseconds: how long the tombstone (`remove`
 * action) of a deleted data file is carried into checkpoints, so that VACUUM keeps the
 * file for readers of older versions. An interval such as `interval 1 week`.
 * @default 7 days
 */
export const DELETED_FILE_RETENTION_DURATION: TableProperty<number> = {
  key: "delta.deletedFileRetentionDuration",
  defaultValue: 7 * 86_400_000,
  parse: parseInterval,
};

/**
 * `delta.dataSkippingNumIndexedCols`: how many leaf columns, depth first, get min/max/null
 * count statistics in `add` actions. `-1` (read as `Infinity`) means every column.
 * @default 32
 */
export const DATA_SKIPPING_NUM_INDEXED_COLS: TableProperty<number> = {
  key: "delta.dataSkippingNumIndexedCols",
  defaultValue: 32,
  parse: (text) => {
    const n = parseInteger(text, -1, "an integer of -1 (every column) or more");
    return n === -1 ? Infinity : n;
  },
};

/**
 * `delta.enableExpiredLogCleanup`: whether log files older than
 * {@link LOG_RETENTION_DURATION} are deleted after a checkpoint. `true` or `false`.
 * @default true
 */
export const ENABLE_EXPIRED_LOG_CLEANUP: TableProperty<boolean> = {
  key: "delta.enableExpiredLogCleanup",
  defaultValue: true,
  parse: parseBoolean,
};

/**
 * `delta.appendOnly`: the table only grows; a commit that removes a data file is refused
 * (a writer feature of protocol writer version 2). `true` or `false`.
 * @default false
 */
export const APPEND_ONLY: TableProperty<boolean> = {
  key: "delta.appendOnly",
  defaultValue: false,
  parse: parseBoolean,
};

/**
 * `delta.checkpoint.writeStatsAsStruct`: checkpoints carry each file's stats typed
 * (`add.stats_parsed`) and, for partitioned tables, its partition values typed
 * (`add.partitionValues_parsed`). `true` or `false`.
 * @default true
 */
export const CHECKPOINT_WRITE_STATS_AS_STRUCT: TableProperty<boolean> = {
  key: "delta.checkpoint.writeStatsAsStruct",
  defaultValue: true,
  parse: parseBoolean,
};

/**
 * `delta.checkpoint.writeStatsAsJson`: checkpoints carry each file's stats as the JSON
 * string of its add action (`add.stats`). `true` or `false`.
 * @default true
 */
export const CHECKPOINT_WRITE_STATS_AS_JSON: TableProperty<boolean> = {
  key: "delta.checkpoint.writeStatsAsJson",
  defaultValue: true,
  parse: parseBoolean,
};

/** Every property above, to check a configuration before a table is created with it. */
export const TABLE_PROPERTIES: readonly TableProperty<unknown>[] = [
  CHECKPOINT_INTERVAL,
  LOG_RETENTION_DURATION,
  DELETED_FILE_RETENTION_DURATION,
  DATA_SKIPPING_NUM_INDEXED_COLS,
  ENABLE_EXPIRED_LOG_CLEANUP,
  APPEND_ONLY,
  CHECKPOINT_WRITE_STATS_AS_STRUCT,
  CHECKPOINT_WRITE_STATS_AS_JSON,
];

/**
 * The value of `property` in a table's `configuration`, or its default when unset.
 * @throws {TableError} naming the property and its value when the value is not valid.
 */
export function tableProperty<T>(configuration: Readonly<Record<string, string>> | undefined, property: TableProperty<T>): T {
  const text = configuration?.[property.key];
  if (text === undefined) return property.defaultValue;
  try {
    return property.parse(text);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new TableError(`Table property '${property.key}': ${err.message}`, { cause: err });
  }
}

/**
 * Checks that every property of {@link TABLE_PROPERTIES} set in `configuration` is valid.
 * Other keys are left alone: they are for other engines.
 * @throws {TableError} naming the first property whose value is not valid.
 */
export function checkTableProperties(configuration: Readonly<Record<string, string>>): void {
  for (const property of TABLE_PROPERTIES) tableProperty(configuration, property);
}

const UNIT_MS: Readonly<Record<string, number>> = {
  week: 604_800_000,
  day: 86_400_000,
  hour: 3_600_000,
  minute: 60_000,
  second: 1000,
  millisecond: 1,
  microsecond: 0.001,
};

/**
 * Parses a Delta duration, written as Spark writes a calendar interval: an optional
 * `interval`, then one or more `<number> <unit>` pairs, units from `week` down to
 * `microsecond`, singular or plural, in any case. Only seconds may have a fraction.
 * Months and years are refused, as Delta refuses them: their length varies.
 *
 * @returns the duration in milliseconds.
 * @throws {RangeError} naming the text when it is not such a duration, or is negative.
 * @example
 * ```ts
 * parseInterval("interval 30 days"); // 2_592_000_000
 * parseInterval("1 week 12 hours"); // 648_000_000
 * ```
 */
export function parseInterval(text: string): number {
  const expected = `Expected a duration such as 'interval 30 days' (units: week, day, hour, minute, second, millisecond, microsecond): got '${text}'`;
  const body = text.trim().replace(/^interval(?=\s|$)/i, "").trim();
  const pair = /([+-]?)(\d+)(?:\.(\d+))?\s*([a-z]+)\s*/giy;
  let total = 0;
  let pairs = 0;
  let at = 0;
  for (let m = pair.exec(body); m !== null; m = pair.exec(body)) {
    at = pair.lastIndex;
    pairs++;
    const word = m[4]!.toLowerCase();
    const unit = word.endsWith("s") && word.length > 1 && UNIT_MS[word.slice(0, -1)] !== undefined ? word.slice(0, -1) : word;
    if (unit === "month" || unit === "year") {
      throw new RangeError(`${expected}; months and years are not durations of a fixed length`);
    }
    const ms = UNIT_MS[unit];
    if (ms === undefined) throw new RangeError(expected);
    if (m[3] !== undefined && unit !== "second") throw new RangeError(`${expected}; only seconds may have a fraction`);
    const value = Number(`${m[2]}${m[3] !== undefined ? `.${m[3]}` : ""}`) * ms;
    total += m[1] === "-" ? -value : value;
  }
  if (pairs === 0 || at !== body.length) throw new RangeError(expected);
  if (total < 0) throw new RangeError(`${expected}; a retention cannot be negative`);
  return total;
}

function parseInteger(text: string, min: number, expected: string): number {
  const n = /^\s*[+-]?\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`Expected ${expected}: got '${text}'`);
  return n;
}

function parseBoolean(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === "true") return true;
  if (t === "false") return false;
  throw new RangeError(`Expected 'true' or 'false': got '${text}'`);
}
