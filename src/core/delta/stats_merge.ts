/**
 * The `stats` of a file made of other files' rows, merged from those files' `stats` without
 * reading a row: `numRecords` and null counts add up, min and max are the least and greatest
 * of the files' bounds, each written as the file wrote it.
 *
 * For files written by {@link statsJson} this is the text `statsJson` writes for all their
 * rows at once: a string min is cut to a prefix and a max raised to a bound, and both cuts
 * keep order (the least prefix is the prefix of the least string), timestamps are whole
 * milliseconds rounded down for min and up for max (the same argument). Whenever the files do
 * not allow that, the merge gives up (`undefined`) rather than write weaker statistics, and
 * the caller computes them from the rows.
 * @module
 */
import { type DataType, decimalParts, type StructType } from "../schema/schema.ts";
import { compareUtf8 } from "../../util/utf8_order.ts";

/** A JSON number with its text, as the file's stats wrote it. */
class RawNumber {
  /** `exact`: `text` is the file's own; otherwise the shortest text of the double JSON.parse made of it. */
  constructor(readonly text: string, readonly exact: boolean) {}
}

type Json = null | boolean | string | RawNumber | Json[] | { [k: string]: Json };

interface FileStats {
  numRecords: number;
  min: Json;
  max: Json;
  nulls: Json;
}

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;

/** Each number kept as its text (TC39 "JSON.parse source text access", in Bun and Deno). */
const keepNumberText: Reviver = (_key, value, context) => (typeof value === "number" ? (context?.source === undefined ? new RawNumber(String(value), false) : new RawNumber(context.source, true)) : value);

/** Numbers as JSON.parse gives them, each made a RawNumber of its shortest text. */
function wrapNumbers(v: unknown): Json {
  if (typeof v === "number") return new RawNumber(String(v), false);
  if (v === null || typeof v !== "object") return v as Json;
  if (Array.isArray(v)) return v.map(wrapNumbers);
  const o = v as Record<string, unknown>;
  for (const k in o) o[k] = wrapNumbers(o[k]);
  return o as Json;
}

/**
 * `exact`: numbers keep their text (decimals: `1.50` is not `1.5`). Otherwise a number's text
 * is its shortest form, which is what statsJson writes for integers within 2^53 and floats;
 * wider integers are refused when compared (see {@link compare}). The reviver costs about 5×.
 */
function parseStats(text: string | null | undefined, exact: boolean): FileStats | undefined {
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = exact ? JSON.parse(text, keepNumberText as (key: string, value: unknown) => unknown) : wrapNumbers(JSON.parse(text));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const o = parsed as Record<string, Json>;
  // Files whose bounds are not tight (deletion vectors) cannot bound the merged file exactly.
  if (!(o.numRecords instanceof RawNumber) || (o.tightBounds !== undefined && o.tightBounds !== true)) return undefined;
  const numRecords = Number(o.numRecords.text);
  if (!Number.isSafeInteger(numRecords)) return undefined;
  return { numRecords, min: o.minValues ?? {}, max: o.maxValues ?? {}, nulls: o.nullCount ?? {} };
}

/** Why a merge gave up. */
class CannotMerge extends Error {}

/**
 * The merged `stats` JSON of files whose `stats` are given, over `schema` (the data columns),
 * or `undefined` when they cannot be merged exactly (a file without stats, a column some
 * files bound and others not, a bound that is not understood).
 */
export function mergeStatsJson(schema: StructType, stats: readonly (string | null | undefined)[], options: { numIndexedCols?: number } = {}): string | undefined {
  const files: FileStats[] = [];
  const exact = hasDecimal(schema);
  for (const s of stats) {
    const f = parseStats(s, exact);
    if (!f) return undefined;
    files.push(f);
  }
  try {
    const parts = collect(schema, files.map((f) => ({ rows: f.numRecords, min: f.min, max: f.max, nulls: f.nulls })), { left: options.numIndexedCols ?? 32 });
    const rows = files.reduce((n, f) => n + f.numRecords, 0);
    return `{"numRecords":${rows},"minValues":${parts.min},"maxValues":${parts.max},"nullCount":${parts.nulls}}`;
  } catch (err) {
    if (err instanceof CannotMerge) return undefined;
    throw err;
  }
}

interface Level {
  rows: number;
  min: Json | undefined;
  max: Json | undefined;
  nulls: Json | undefined;
}

const child = (o: Json | undefined, name: string): Json | undefined => (o !== null && typeof o === "object" && !(o instanceof RawNumber) && !Array.isArray(o) ? o[name] : undefined);

/** The same walk as statsJson's: a column counts against the budget when the files have stats for it. */
function collect(type: StructType, files: readonly Level[], budget: { left: number }): { min: string; max: string; nulls: string } {
  const min: string[] = [];
  const max: string[] = [];
  const nulls: string[] = [];
  for (const f of type.fields) {
    if (budget.left <= 0) break;
    const key = JSON.stringify(f.name);
    const sub = files.map((x) => ({ rows: x.rows, min: child(x.min, f.name), max: child(x.max, f.name), nulls: child(x.nulls, f.name) }));
    if (typeof f.type === "object" && f.type.type === "struct") {
      const inner = collect(f.type, sub, budget);
      if (inner.min !== "{}") min.push(`${key}:${inner.min}`);
      if (inner.max !== "{}") max.push(`${key}:${inner.max}`);
      if (inner.nulls !== "{}") nulls.push(`${key}:${inner.nulls}`);
      continue;
    }
    const counted = sub.filter((x) => x.nulls !== undefined).length;
    if (counted === 0) continue; // no stats for this column in any file (as the writer skips it)
    if (counted !== sub.length) throw new CannotMerge();
    budget.left--;
    let nullCount = 0;
    for (const x of sub) {
      if (!(x.nulls instanceof RawNumber)) throw new CannotMerge();
      nullCount += Number(x.nulls.text);
    }
    nulls.push(`${key}:${nullCount}`);
    const lo = bound(f.type, sub, "min");
    const hi = bound(f.type, sub, "max");
    if (lo !== undefined) min.push(`${key}:${lo}`);
    if (hi !== undefined) max.push(`${key}:${hi}`);
  }
  return { min: `{${min.join(",")}}`, max: `{${max.join(",")}}`, nulls: `{${nulls.join(",")}}` };
}

/** The least (or greatest) bound of the files that hold values, as written; none when no file has one. */
function bound(type: DataType, files: readonly Level[], side: "min" | "max"): string | undefined {
  let best: Json | undefined;
  let withValues = 0;
  let bounded = 0;
  for (const x of files) {
    const v = side === "min" ? x.min : x.max;
    const hasValues = Number((x.nulls as RawNumber).text) < x.rows;
    if (hasValues) withValues++;
    if (v === undefined) continue;
    if (!hasValues) throw new CannotMerge(); // a bound over no values: not what this writer writes
    bounded++;
    compare(type, v, v); // refuses a bound it does not understand, also when it is the only one
    if (best === undefined || (side === "min" ? compare(type, v, best) < 0 : compare(type, v, best) > 0)) best = v;
  }
  if (bounded === 0) return undefined; // a type without bounds, or only nulls
  // Some files with values have no bound (NaN, a string max that cannot be cut): the merged
  // file would have none either, or another one: leave it to the rows.
  if (bounded !== withValues) throw new CannotMerge();
  return best instanceof RawNumber ? best.text : JSON.stringify(best);
}

function compare(type: DataType, a: Json, b: Json): number {
  if (type === "string" && typeof a === "string" && typeof b === "string") return compareUtf8(a, b);
  if ((type === "date") && typeof a === "string" && typeof b === "string" && /^\d{4}-\d{2}-\d{2}$/.test(a) && /^\d{4}-\d{2}-\d{2}$/.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  if (type === "timestamp" && typeof a === "string" && typeof b === "string") {
    const x = Date.parse(a);
    const y = Date.parse(b);
    if (Number.isNaN(x) || Number.isNaN(y)) throw new CannotMerge();
    return x - y;
  }
  if (a instanceof RawNumber && b instanceof RawNumber) {
    if (type === "byte" || type === "short" || type === "integer" || type === "long") {
      // Digits only, within 2^53 unless read exactly: a wider integer's shortest double text is not its own.
      const ok = (n: RawNumber) => /^-?\d+$/.test(n.text) && (n.exact || Number.isSafeInteger(Number(n.text)));
      if (!ok(a) || !ok(b)) throw new CannotMerge();
      const x = BigInt(a.text);
      const y = BigInt(b.text);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    if (type === "float" || type === "double") return Number(a.text) - Number(b.text);
    const dec = decimalParts(type);
    if (dec) {
      if (!a.exact || !b.exact) throw new CannotMerge();
      const x = unscaled(a.text, dec.scale);
      const y = unscaled(b.text, dec.scale);
      return x < y ? -1 : x > y ? 1 : 0;
    }
  }
  throw new CannotMerge();
}

function hasDecimal(type: DataType): boolean {
  if (typeof type === "string") return decimalParts(type) !== undefined;
  if (type.type === "struct") return type.fields.some((f) => hasDecimal(f.type));
  return false;
}

/** A plain decimal's text as an integer at `scale`. */
function unscaled(text: string, scale: number): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m || (m[3] ?? "").length > scale) throw new CannotMerge();
  const v = BigInt(m[2]! + (m[3] ?? "").padEnd(scale, "0"));
  return m[1] ? -v : v;
}
