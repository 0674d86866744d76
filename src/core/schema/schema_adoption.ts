/**
 * Writing into a table that already exists with a schema of its own: which column of the
 * table each produced column goes to, how its values are converted without losing anything,
 * and what cannot be written at all.
 *
 * The rules (`produced → table`):
 * - the same type: as it is;
 * - exact widenings: `byte → short → integer → long`; `byte`, `short`, `integer` → `double`;
 *   `byte`, `short` → `float`; `float → double`; `decimal(p,s) → decimal(p',s')` with
 *   `p'-s' ≥ p-s` and `s' ≥ s`; an integer type to a decimal with enough integer digits;
 * - `date → timestamp` (midnight UTC);
 * - to `string`: a timestamp as `YYYY-MM-DD HH:MM:SS` in UTC, with `.ffffff` (trailing zeros
 *   cut) only when the value has a fraction of a second (the publisher's form, and Spark's
 *   `CAST(ts AS STRING)` in a UTC session); a date as `YYYY-MM-DD`; an integer type as its
 *   decimal digits;
 * - a nullable table column nothing produces: null.
 *
 * Anything else is a {@link SchemaMismatch}: a produced column the table lacks (the only kind
 * schema evolution can fix, by adding it), a table column that is NOT NULL and gets no value
 * or may get a null, and every conversion that could lose or change data (`long → integer`,
 * `integer → float`, `long → double`, `string → timestamp`, …). Names are matched as Delta
 * matches them, without regard to case; the table's spelling, order and partitioning win.
 * @module
 */
import { formatDate, toDays } from "../values/date.ts";
import { toMicros } from "../values/timestamp.ts";
import { type DataType, decimalParts, type StructField, type StructType, SchemaError } from "./schema.ts";

/** How one column of the table is written. */
export interface ColumnAdoption {
  /** The table's column. */
  field: StructField;
  /** The produced column its values come from; undefined: nothing produces it (always null). */
  from?: StructField;
  /**
   * Turns a produced value into a value of the table's type; undefined when the value is
   * taken as it is. Throws a {@link SchemaError} for a value of the wrong kind.
   */
  convert?: (value: unknown) => unknown;
  /** The conversion, for logs: `timestamp → string`, `integer → long`, `null (not produced)`. */
  how?: string;
}

/** A column that cannot be written losslessly. */
export interface SchemaMismatch {
  /** The column (the table's spelling when the table has it). */
  column: string;
  /** The table's type, `NOT NULL` included, or `absent` when the table lacks the column. */
  found: string;
  /** What is produced for it, or `nothing` for a table column nothing produces. */
  expected: string;
  /** Why it cannot be written. */
  reason: string;
  /** The table lacks a produced column: schema evolution adds it. */
  missing: boolean;
}

export interface SchemaAdoption {
  /** Every column of the table, in the table's order. */
  columns: ColumnAdoption[];
  mismatches: SchemaMismatch[];
  /**
   * The produced schema is the table's (same names, order, types and nullability): rows are
   * written as they are.
   */
  identical: boolean;
}

/**
 * How rows of the `produced` schema are written into a table of schema `table`.
 * @example
 * adoptSchema(struct(field("ts", "timestamp")), struct(field("ts", "string"))).columns[0].how // "timestamp → string"
 */
export function adoptSchema(produced: StructType, table: StructType): SchemaAdoption {
  const byName = new Map(produced.fields.map((f) => [f.name.toLowerCase(), f]));
  const tableNames = new Set(table.fields.map((f) => f.name.toLowerCase()));
  const columns: ColumnAdoption[] = [];
  const mismatches: SchemaMismatch[] = [];
  for (const t of table.fields) {
    const p = byName.get(t.name.toLowerCase());
    if (!p) {
      if (t.nullable) columns.push({ field: t, how: "null (not produced)" });
      else mismatches.push({ column: t.name, found: typeText(t.type, false), expected: "nothing", reason: "the table requires a value and nothing is produced for it", missing: false });
      continue;
    }
    if (!t.nullable && p.nullable) {
      mismatches.push({ column: t.name, found: typeText(t.type, false), expected: typeText(p.type, true), reason: "the table's column is NOT NULL and the value produced for it may be null", missing: false });
      continue;
    }
    const c = conversion(p.type, t.type);
    if (!c) {
      mismatches.push({ column: t.name, found: typeText(t.type, t.nullable), expected: typeText(p.type, p.nullable), reason: whyNot(p.type, t.type), missing: false });
      continue;
    }
    columns.push({ field: t, from: p, ...(c.convert ? { convert: c.convert } : {}), ...(c.how ? { how: c.how } : {}) });
  }
  for (const p of produced.fields) {
    if (!tableNames.has(p.name.toLowerCase())) {
      mismatches.push({ column: p.name, found: "absent", expected: typeText(p.type, p.nullable), reason: "the table has no such column", missing: true });
    }
  }
  const identical = mismatches.length === 0 && produced.fields.length === table.fields.length &&
    table.fields.every((t, i) => {
      const p = produced.fields[i]!;
      return p.name === t.name && p.nullable === t.nullable && sameType(p.type, t.type, true);
    });
  return { columns, mismatches, identical };
}

/**
 * A Delta type as a person reads it: `string`, `decimal(10,2)`, `array<string>`,
 * `struct<a: integer, b: string>`, with ` NOT NULL` when `nullable` is false.
 */
export function typeText(type: DataType, nullable = true): string {
  const notNull = nullable ? "" : " NOT NULL";
  if (typeof type === "string") return type + notNull;
  switch (type.type) {
    case "struct": return `struct<${type.fields.map((f) => `${f.name}: ${typeText(f.type, f.nullable)}`).join(", ")}>${notNull}`;
    case "array": return `array<${typeText(type.elementType, type.containsNull)}>${notNull}`;
    case "map": return `map<${typeText(type.keyType)}, ${typeText(type.valueType, type.valueContainsNull)}>${notNull}`;
  }
}

/**
 * A UTC timestamp in µs as `YYYY-MM-DD HH:MM:SS`, with the fraction of a second (trailing
 * zeros cut) only when there is one: the publisher's form, and Spark's `CAST(ts AS STRING)`.
 * @example timestampText(1704164645000000n) // "2024-01-02 03:04:05"
 */
export function timestampText(us: bigint): string {
  const frac = ((us % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const ms = (us - frac) / 1000n;
  const iso = new Date(Number(ms)).toISOString();
  const whole = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  return frac === 0n ? whole : `${whole}.${String(frac).padStart(6, "0").replace(/0+$/, "")}`;
}

interface Conversion {
  convert?: (value: unknown) => unknown;
  how?: string;
}

const INTEGERS = ["byte", "short", "integer", "long"] as const;
/** Decimal digits an integer type needs. */
const INTEGER_DIGITS: Record<string, number> = { byte: 3, short: 5, integer: 10, long: 19 };
/** Integer types whose every value a float or a double holds exactly. */
const EXACT_IN: Record<string, readonly string[]> = { float: ["byte", "short"], double: ["byte", "short", "integer"] };

/** The lossless conversion from `p` to `t`, or undefined when there is none. */
function conversion(p: DataType, t: DataType): Conversion | undefined {
  if (sameType(p, t, false)) return {};
  if (typeof p !== "string" || typeof t !== "string") return undefined;
  const how = `${p} → ${t}`;
  const pi = INTEGERS.indexOf(p as (typeof INTEGERS)[number]);
  const ti = INTEGERS.indexOf(t as (typeof INTEGERS)[number]);
  // The Arrow builders take numbers (and bigints for long) for every integer type.
  if (pi >= 0 && ti > pi) return { how };
  if (pi >= 0 && EXACT_IN[t]?.includes(p)) return { how, convert: (v) => (typeof v === "bigint" ? Number(v) : v) };
  if (p === "float" && t === "double") return { how };
  const pd = decimalParts(p);
  const td = decimalParts(t);
  if (td && (pd ? td.precision - td.scale >= pd.precision - pd.scale && td.scale >= pd.scale : pi >= 0 && td.precision - td.scale >= INTEGER_DIGITS[p]!)) {
    // Decimal values are strings, numbers or bigints: each is read again at the new scale.
    return { how, convert: (v) => (typeof v === "number" && pi >= 0 ? BigInt(v) : v) };
  }
  // A zoned time written as the wall-clock time it is in UTC (Spark's cast with the session in UTC).
  if (p === "timestamp" && t === "timestamp_ntz") return { how: `${how} (the UTC wall-clock time)` };
  if (p === "date" && t === "timestamp") {
    return { how, convert: (v) => (v == null ? null : BigInt(need(toDays(v), v, "a date")) * 86_400_000_000n) };
  }
  if (t === "string") {
    if (p === "timestamp") return { how: `${how} ('YYYY-MM-DD HH:MM:SS')`, convert: (v) => (v == null ? null : timestampText(need(toMicros(v), v, "a timestamp"))) };
    if (p === "date") return { how, convert: (v) => (v == null ? null : formatDate(need(toDays(v), v, "a date"))) };
    if (pi >= 0) return { how, convert: (v) => (v == null ? null : String(v)) };
  }
  return undefined;
}

function need<T>(x: T | undefined, v: unknown, what: string): T {
  if (x === undefined) throw new SchemaError(`Expected ${what}: got ${typeof v === "bigint" ? `${v}n` : JSON.stringify(v)}`);
  return x;
}

function whyNot(p: DataType, t: DataType): string {
  if (typeof p !== "string" || typeof t !== "string") return "nested types must be the same (their nullability may only widen)";
  if (INTEGERS.includes(p as never) && INTEGERS.includes(t as never)) return `${article(t)} ${t} cannot hold every ${p}`;
  if (INTEGERS.includes(p as never) && (t === "float" || t === "double")) return `${article(t)} ${t} cannot hold every ${p} exactly`;
  if (decimalParts(t) && (decimalParts(p) || INTEGERS.includes(p as never))) return "the decimal has fewer integer or fraction digits than the values need";
  return `no lossless conversion from ${p} to ${t}`;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

/**
 * Whether two types are the same. With `exact`, nested nullability must be equal too;
 * without, the table (`t`) may allow nulls where `p` does not.
 */
function sameType(p: DataType, t: DataType, exact: boolean): boolean {
  const nulls = (pn: boolean, tn: boolean) => (exact ? pn === tn : tn || !pn);
  if (typeof p === "string" || typeof t === "string") {
    if (typeof p !== "string" || typeof t !== "string") return false;
    const pd = decimalParts(p);
    const td = decimalParts(t);
    return pd && td ? pd.precision === td.precision && pd.scale === td.scale : p === t;
  }
  if (p.type === "struct" && t.type === "struct") {
    return p.fields.length === t.fields.length &&
      p.fields.every((f, i) => {
        const g = t.fields[i]!;
        return f.name === g.name && nulls(f.nullable, g.nullable) && sameType(f.type, g.type, exact);
      });
  }
  if (p.type === "array" && t.type === "array") return nulls(p.containsNull, t.containsNull) && sameType(p.elementType, t.elementType, exact);
  if (p.type === "map" && t.type === "map") {
    return sameType(p.keyType, t.keyType, exact) && nulls(p.valueContainsNull, t.valueContainsNull) && sameType(p.valueType, t.valueType, exact);
  }
  return false;
}
