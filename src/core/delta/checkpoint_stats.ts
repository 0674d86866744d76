/**
 * Struct statistics in checkpoints: `add.stats_parsed` and `add.partitionValues_parsed`,
 * typed by the table's schema, beside (or instead of) the JSON `stats` string, as
 * delta-spark writes them by default (`delta.checkpoint.writeStatsAsStruct`). Engines that
 * plan from checkpoints (Spark, Trino, delta-rs, DuckDB) then skip files without parsing
 * one JSON string per file.
 *
 * The values come from each add's JSON `stats` (whoever wrote the file) and its
 * `partitionValues`; a value that does not fit its column's type is left null, which every
 * reader takes as "unknown" (the file is never skipped on it).
 * @module
 */
import { decimalParts, type DataType, field, type StructField, struct, type StructType } from "../schema/schema.ts";
import { toDays } from "../values/date.ts";
import { formatDecimal, toUnscaled } from "../values/decimal.ts";
import { plainNumberText } from "../values/number_text.ts";
import { toMicros } from "../values/timestamp.ts";
import type { Add } from "./actions.ts";

/** The typed shapes of one table's `stats_parsed` and `partitionValues_parsed`. */
export interface ParsedStatsSchema {
  /** `add.stats_parsed`: numRecords, minValues, maxValues, nullCount. */
  stats: StructType;
  /** `add.partitionValues_parsed`, for partitioned tables. */
  partitionValues: StructType | undefined;
  /** minValues / maxValues: the indexed leaves that have an order. */
  bounds: StructType;
  /** nullCount: every indexed leaf, as a long. */
  nullCounts: StructType;
}

/** Types whose min and max Delta records (booleans, binaries, arrays and maps get only a null count). */
function hasBounds(type: DataType): boolean {
  if (typeof type === "object") return false;
  return type !== "boolean" && type !== "binary" && type !== "timestamp_ntz";
}

/**
 * The `stats_parsed` and `partitionValues_parsed` types of a table: its data columns (not
 * the partition columns), depth first, the first `numIndexedCols` leaves (an array or a
 * map counts as one), as `delta.dataSkippingNumIndexedCols` bounds the JSON stats.
 */
export function parsedStatsSchema(schema: StructType, partitionColumns: readonly string[], numIndexedCols: number): ParsedStatsSchema {
  const partitions = new Set(partitionColumns);
  const budget = { left: numIndexedCols };
  const { bounds, nulls } = statsFields(schema.fields.filter((f) => !partitions.has(f.name)), budget);
  const boundsType = struct(...bounds);
  const nullCounts = struct(...nulls);
  const stats = struct(
    field("numRecords", "long"),
    ...(bounds.length > 0 ? [field("minValues", boundsType), field("maxValues", boundsType)] : []),
    ...(nulls.length > 0 ? [field("nullCount", nullCounts)] : []),
  );
  const partitionFields = partitionColumns.map((name) => schema.fields.find((f) => f.name === name)).filter((f): f is StructField => f !== undefined);
  return {
    stats,
    partitionValues: partitionFields.length > 0 ? struct(...partitionFields.map((f) => field(f.name, f.type))) : undefined,
    bounds: boundsType,
    nullCounts,
  };
}

function statsFields(fields: readonly StructField[], budget: { left: number }): { bounds: StructField[]; nulls: StructField[] } {
  const bounds: StructField[] = [];
  const nulls: StructField[] = [];
  for (const f of fields) {
    if (budget.left <= 0) break;
    if (typeof f.type === "object" && f.type.type === "struct") {
      const sub = statsFields(f.type.fields, budget);
      if (sub.bounds.length > 0) bounds.push(field(f.name, struct(...sub.bounds)));
      if (sub.nulls.length > 0) nulls.push(field(f.name, struct(...sub.nulls)));
      continue;
    }
    budget.left--;
    nulls.push(field(f.name, "long"));
    if (hasBounds(f.type)) bounds.push(field(f.name, f.type));
  }
  return { bounds, nulls };
}

/**
 * An add's `stats_parsed` row: its JSON stats typed by `schema`, or null when it has none
 * (or they are not JSON).
 */
export function statsParsed(add: Add, schema: ParsedStatsSchema): Record<string, unknown> | null {
  if (!add.stats) return null;
  let json: unknown;
  try {
    json = parseKeepingNumbers(add.stats);
  } catch {
    return null;
  }
  if (!isObject(json)) return null;
  return {
    numRecords: asLong(json.numRecords),
    minValues: typed(schema.bounds, json.minValues),
    maxValues: typed(schema.bounds, json.maxValues),
    nullCount: typed(schema.nullCounts, json.nullCount, "long"),
  };
}

/** An add's `partitionValues_parsed` row: each partition value typed by its column. */
export function partitionValuesParsed(add: Add, type: StructType): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of type.fields) out[f.name] = partitionValue(f.type, add.partitionValues?.[f.name]);
  return out;
}

/**
 * JSON with every number kept as its text (a `long` beyond 2^53 or a decimal of 30 digits
 * must not pass through a double: a bound rounded the wrong way would let readers skip a
 * file holding matching rows).
 */
function parseKeepingNumbers(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => (typeof value === "number" ? context?.source ?? String(value) : value));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A stats object typed by `type` (leaves as `leafAs` when given: null counts are longs whatever the column). */
function typed(type: StructType, v: unknown, leafAs?: DataType): Record<string, unknown> | null {
  if (!isObject(v)) return null;
  const out: Record<string, unknown> = {};
  for (const f of type.fields) {
    const x = v[f.name];
    out[f.name] = typeof f.type === "object" && f.type.type === "struct" ? typed(f.type, x, leafAs) : leaf(leafAs ?? f.type, x);
  }
  return out;
}

/** A JSON stats value (numbers as their text) in the form the Arrow builder takes for `type`, or null. */
function leaf(type: DataType, v: unknown): unknown {
  if (v === null || v === undefined || typeof v === "object" || typeof v === "boolean") return null;
  const text = String(v);
  switch (type) {
    case "string":
      return typeof v === "string" ? v : null;
    case "long":
      return asLong(v);
    case "integer":
      return asInt(text, -2147483648, 2147483647);
    case "short":
      return asInt(text, -32768, 32767);
    case "byte":
      return asInt(text, -128, 127);
    case "double":
    case "float": {
      const n = Number(text);
      return Number.isFinite(n) ? n : null;
    }
    case "date":
      return toDays(text) === undefined ? null : text;
    case "timestamp":
      return toMicros(text) ?? null;
  }
  const dec = decimalParts(type);
  if (dec) {
    const unscaled = toUnscaled(plainNumberText(text) ?? text, dec.scale);
    const limit = 10n ** BigInt(dec.precision);
    return unscaled === undefined || unscaled >= limit || unscaled <= -limit ? null : formatDecimal(unscaled, dec.scale);
  }
  return null;
}

function asLong(v: unknown): bigint | null {
  const text = typeof v === "string" || typeof v === "number" ? String(v) : "";
  if (!/^-?\d+$/.test(text)) return null;
  const n = BigInt(text);
  return n >= -(2n ** 63n) && n < 2n ** 63n ? n : null;
}

function asInt(text: string, lo: number, hi: number): number | null {
  if (!/^-?\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= lo && n <= hi ? n : null;
}

/** A partition value (its text in `partitionValues`; null for the null partition) typed by its column. */
function partitionValue(type: DataType, text: string | null | undefined): unknown {
  if (text === null || text === undefined) return null;
  if (type === "boolean") return text === "true" ? true : text === "false" ? false : null;
  if (type === "binary") return new TextEncoder().encode(text);
  if (type === "string") return text;
  // Partition values are never cut, unlike stats: a number or a time is taken exactly.
  return leaf(type, text);
}
