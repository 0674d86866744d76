import type { StructStats } from "../arrow/rows_to_arrow.ts";
import { type DataType, decimalParts, type StructType } from "../schema/schema.ts";
import { formatDate } from "../values/date.ts";
import { formatDecimal } from "../values/decimal.ts";
import { microsToMillis } from "../values/timestamp.ts";

/** Options for the `stats` string of add actions. */
export interface StatsOptions {
  /** Leaf columns (depth first) that get statistics: `delta.dataSkippingNumIndexedCols`. @default 32 */
  numIndexedCols?: number;
  /** Characters of a string kept in min/max. @default 32 */
  stringPrefixLength?: number;
}

/**
 * A string max cut to about `prefix` UTF-16 units that still sorts ≥ the original, as
 * Delta 3.3 cuts it: the prefix plus U+007F when the next character is below it, else
 * plus U+10FFFF (skipping U+10FFFF characters of the original). `undefined` (no max) when
 * no such cut exists within twice the prefix.
 */
export function truncateMax(s: string, prefix: number): string | undefined {
  if (s.length <= prefix) return s;
  let len = isHighSurrogate(s.charCodeAt(prefix - 1)) ? prefix + 1 : prefix;
  while (len <= prefix * 2) {
    if (len >= s.length) return s;
    if (s.charCodeAt(len) === 0xdbff && s.charCodeAt(len + 1) === 0xdfff) {
      len += 2;
      continue;
    }
    return s.slice(0, len) + (s.charCodeAt(len) < 0x7f ? "\u007f" : "\u{10FFFF}");
  }
  return undefined;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/**
 * The `stats` JSON of an add action: `numRecords`, and for the first `numIndexedCols`
 * leaf columns `nullCount`, and for numbers, dates, timestamps and strings `minValues` /
 * `maxValues`, nested like the schema.
 *
 * Strings longer than the prefix length are cut: min to its prefix, max as
 * {@link truncateMax} does, so both still bound the column. Timestamps are written in
 * milliseconds, min rounded down and max rounded up, so that they bound the column for
 * every reader (Spark adds 1 ms to max on read; others do not).
 */
export function statsJson(schema: StructType, stats: StructStats, numRecords: number, options: StatsOptions = {}): string {
  const budget = { left: options.numIndexedCols ?? 32 };
  const prefix = options.stringPrefixLength ?? 32;
  const tree = collect(schema, stats, budget, prefix);
  return `{"numRecords":${numRecords},"minValues":${tree.min},"maxValues":${tree.max},"nullCount":${tree.nulls}}`;
}

interface Parts {
  min: string;
  max: string;
  nulls: string;
}

function collect(type: StructType, stats: StructStats, budget: { left: number }, prefix: number): Parts {
  const min: string[] = [];
  const max: string[] = [];
  const nulls: string[] = [];
  for (const f of type.fields) {
    if (budget.left <= 0) break;
    const s = stats.fields.get(f.name);
    if (!s) continue;
    const key = JSON.stringify(f.name);
    if (typeof f.type === "object" && f.type.type === "struct" && s.kind === "struct") {
      const sub = collect(f.type, s, budget, prefix);
      if (sub.min !== "{}") min.push(`${key}:${sub.min}`);
      if (sub.max !== "{}") max.push(`${key}:${sub.max}`);
      if (sub.nulls !== "{}") nulls.push(`${key}:${sub.nulls}`);
      continue;
    }
    budget.left--;
    if (s.kind !== "leaf") continue;
    nulls.push(`${key}:${s.nullCount}`);
    const lo = s.min === undefined ? undefined : formatStat(f.type, s.min, "min", prefix);
    const hi = s.max === undefined ? undefined : formatStat(f.type, s.max, "max", prefix);
    if (lo !== undefined) min.push(`${key}:${lo}`);
    if (hi !== undefined) max.push(`${key}:${hi}`);
  }
  return { min: `{${min.join(",")}}`, max: `{${max.join(",")}}`, nulls: `{${nulls.join(",")}}` };
}

function formatStat(type: DataType, v: number | bigint | string, side: "min" | "max", prefix: number): string | undefined {
  // JSON has no ±Infinity: no bound is written (readers then never skip the file on it).
  if (typeof v === "number" && !Number.isFinite(v)) return undefined;
  switch (type) {
    case "string": {
      const s = v as string;
      if (side === "min") {
        const cps = Array.from(s);
        return JSON.stringify(cps.length <= prefix ? s : cps.slice(0, prefix).join(""));
      }
      const max = truncateMax(s, prefix);
      return max === undefined ? undefined : JSON.stringify(max);
    }
    case "date":
      return `"${formatDate(v as number)}"`;
    case "timestamp": {
      const us = v as bigint;
      let ms = microsToMillis(us);
      if (side === "max" && us % 1000n !== 0n) ms += 1n;
      return `"${new Date(Number(ms)).toISOString()}"`;
    }
    case "float":
      return shortestFloat32(v as number);
  }
  const dec = decimalParts(type);
  if (dec) return formatDecimal(v as bigint, dec.scale);
  return String(v);
}

/** The shortest decimal text that reads back as the same float32 (as Java's Float.toString). */
function shortestFloat32(v: number): string {
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

