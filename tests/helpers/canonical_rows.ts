/**
 * Canonical rows: the one definition of how a table row is written down for comparison.
 * The rows this library reads and the rows delta-rs, Spark and DuckDB read (which the Delta worker,
 * `tests/interop/py/delta_worker.py`, sends in its wire form) both go through
 * {@link canonicalRows} with the table's schema, and the results are compared with
 * `assert.deepEqual`.
 *
 * ```ts
 * const theirs = await worker.request({ op: "read", engine: "spark", path: dir });
 * assert.deepEqual(theirs.rows, canonicalRows(ours, schema));
 * ```
 */

/** A Delta schema type as JSON (the `schemaString` format). */
export type DeltaType =
  | string
  | { type: "struct"; fields: DeltaField[] }
  | { type: "array"; elementType: DeltaType; containsNull: boolean }
  | { type: "map"; keyType: DeltaType; valueType: DeltaType; valueContainsNull: boolean };
export interface DeltaField {
  name: string;
  type: DeltaType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}
export interface DeltaStructType {
  type: "struct";
  fields: DeltaField[];
}

export type CanonicalValue = null | boolean | number | string | CanonicalValue[] | { [k: string]: CanonicalValue };
export type CanonicalRow = Record<string, CanonicalValue>;

/**
 * The canonical form of `rows`, sorted.
 *
 * Per Delta type:
 * - struct → object with the fields in schema order
 * - array → array
 * - map → array of `[key, value]` pairs sorted by key (numbers numerically,
 *   otherwise by the key's JSON text in UTF-16 code-unit order)
 * - long / integer / short / byte → number (long beyond 2^53 loses precision)
 * - float / double → number; a `float` is the exact double value of the stored
 *   float32 (`Math.fround`); -0 → 0; NaN → "NaN"; ±∞ → "Infinity" / "-Infinity"
 * - decimal(p,s) → string with exactly `s` fraction digits ("12.30", "-0.01", "0.00")
 * - date → "YYYY-MM-DD"
 * - timestamp → UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ" (6 fraction digits, further digits
 *   cut off); timestamp_ntz → the same without "Z"
 * - binary → base64 (standard alphabet, padded)
 * - null → null
 *
 * Rows are sorted by `JSON.stringify(row)` compared with `<` (UTF-16 code units).
 *
 * Accepted inputs: what `DeltaTable.readRows` gives, the worker's wire form, and the
 * shorthands the tests write. Integers: number, bigint or a decimal string. Floats: number,
 * or "NaN" / "Infinity" / "-Infinity". Decimals: string, number or bigint. Dates: `Date`,
 * "YYYY-MM-DD" or days since the epoch. Timestamps: `Date` (µs become 000), bigint µs since
 * the epoch, or ISO 8601 text `YYYY-MM-DDTHH:MM:SS[.f…][Z|±HH:MM]` (no zone means UTC).
 * Binary: `Uint8Array` or base64. Maps: `Map`, `[k, v][]` or a plain object. Structs:
 * plain objects.
 *
 * @throws {Error} on a value that does not fit its type, or a type it does not know.
 */
export function canonicalRows(rows: readonly unknown[], schema: DeltaStructType): CanonicalRow[] {
  return sortCanonicalRows(rows.map((r) => canonicalValue(r, schema) as CanonicalRow));
}

/** Sorts canonical rows by `JSON.stringify`, in UTF-16 code-unit order. */
export function sortCanonicalRows<T>(rows: readonly T[]): T[] {
  return rows
    .map((r) => [JSON.stringify(r), r] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((x) => x[1]);
}

/** The canonical JSON value of `v`, whose Delta type is `t` (see {@link canonicalRows}). */
export function canonicalValue(v: unknown, t: DeltaType): CanonicalValue {
  if (v === null || v === undefined) return null;
  if (typeof t === "string") {
    if (t === "string") return String(v);
    if (t === "long" || t === "integer" || t === "short" || t === "byte") return canonicalInteger(v);
    if (t === "double") return canonicalFloat(floatOf(v));
    if (t === "float") return canonicalFloat(Math.fround(floatOf(v)));
    if (t === "boolean") return Boolean(v);
    if (t === "date") return canonicalDate(v);
    if (t === "timestamp") return canonicalTimestamp(v, false);
    if (t === "timestamp_ntz") return canonicalTimestamp(v, true);
    if (t.startsWith("decimal")) {
      const m = /decimal\(\s*\d+\s*,\s*(\d+)\s*\)/.exec(t);
      return canonicalDecimal(v, m ? Number(m[1]) : 0);
    }
    if (t === "binary") return canonicalBinary(v);
    throw new Error(`canonicalValue: unsupported type ${t}`);
  }
  if (t.type === "struct") {
    const o = v as Record<string, unknown>;
    const out: Record<string, CanonicalValue> = {};
    for (const f of t.fields) out[f.name] = canonicalValue(o[f.name], f.type);
    return out;
  }
  if (t.type === "array") return Array.from(v as Iterable<unknown>, (x) => canonicalValue(x, t.elementType));
  if (t.type === "map") {
    const entries: [unknown, unknown][] = v instanceof Map
      ? [...v.entries()]
      : Array.isArray(v)
      ? (v as [unknown, unknown][])
      : Object.entries(v as object);
    const pairs = entries.map(([k, x]) => [canonicalValue(k, t.keyType), canonicalValue(x, t.valueType)]);
    return pairs.sort((a, b) => compareKeys(a[0]!, b[0]!));
  }
  throw new Error(`canonicalValue: unsupported type ${JSON.stringify(t)}`);
}

/**
 * Canonical `rows` (of `schema`) with every `timestamp` (not `timestamp_ntz`) rounded to the
 * millisecond, half up, as Trino reads them: its Delta Lake connector maps a Delta `timestamp` to
 * `timestamp(3) with time zone` and rounds the stored microseconds (`Timestamps.roundDiv`), so
 * these are exactly the values Trino can give back. Sorted again.
 */
export function timestampsToMillis(rows: readonly CanonicalRow[], schema: DeltaStructType): CanonicalRow[] {
  return sortCanonicalRows(rows.map((r) => roundTimestamps(r, schema) as CanonicalRow));
}

function roundTimestamps(v: CanonicalValue, t: DeltaType): CanonicalValue {
  if (v === null) return null;
  if (typeof t === "string") {
    if (t !== "timestamp") return v;
    const micros = isoMicros(v as string);
    const ms = micros + 500n >= 0n ? (micros + 500n) / 1000n : -((-(micros + 500n) + 999n) / 1000n); // floor
    return canonicalTimestamp(ms * 1000n, false);
  }
  if (t.type === "struct") {
    const o = v as Record<string, CanonicalValue>;
    return Object.fromEntries(t.fields.map((f) => [f.name, roundTimestamps(o[f.name] ?? null, f.type)]));
  }
  if (t.type === "array") return (v as CanonicalValue[]).map((x) => roundTimestamps(x, t.elementType));
  if (t.type === "map") {
    return (v as CanonicalValue[][]).map(([k, x]) => [roundTimestamps(k!, t.keyType), roundTimestamps(x!, t.valueType)]);
  }
  return v;
}

function compareKeys(a: CanonicalValue, b: CanonicalValue): number {
  const an = typeof a === "number", bn = typeof b === "number";
  if (an && bn) return (a as number) - (b as number);
  if (an !== bn) return an ? -1 : 1;
  const sa = JSON.stringify(a), sb = JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function canonicalInteger(v: unknown): number {
  if (typeof v === "number" || typeof v === "bigint") return Number(v);
  if (typeof v === "string" && /^[+-]?\d+$/.test(v)) return Number(v);
  throw new Error(`canonicalValue: bad integer ${JSON.stringify(v)}`);
}

const FLOAT_WORDS: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

function floatOf(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v in FLOAT_WORDS) return FLOAT_WORDS[v]!;
  throw new Error(`canonicalValue: bad float ${JSON.stringify(v)}`);
}

function canonicalFloat(x: number): CanonicalValue {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  return x === 0 ? 0 : x;
}

const pad = (n: number | bigint, w: number) => String(n).padStart(w, "0");

function canonicalDate(v: unknown): string {
  if (typeof v === "string") {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new Error(`canonicalValue: bad date ${JSON.stringify(v)}`);
    return v;
  }
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === "number" || typeof v === "bigint") {
    return new Date(Number(v) * 86_400_000).toISOString().slice(0, 10);
  }
  throw new Error(`canonicalValue: bad date ${String(v)}`);
}

const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** Microseconds since the epoch of an ISO 8601 timestamp; no zone means UTC. */
function isoMicros(s: string): bigint {
  const m = ISO_TIMESTAMP.exec(s);
  if (!m) throw new Error(`canonicalValue: bad timestamp ${JSON.stringify(s)}`);
  const [, y, mo, d, h, mi, sec, frac = "", zone = "Z"] = m;
  const day = new Date(0);
  day.setUTCFullYear(Number(y), Number(mo) - 1, Number(d)); // Date.UTC maps years 0..99 to 19xx
  day.setUTCHours(Number(h), Number(mi), Number(sec), 0);
  let offsetMinutes = 0;
  if (zone !== "Z") {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    offsetMinutes = (z[1] === "-" ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
  }
  return BigInt(day.getTime()) * 1000n + BigInt(frac.padEnd(6, "0").slice(0, 6)) - BigInt(offsetMinutes) * 60_000_000n;
}

function canonicalTimestamp(v: unknown, ntz: boolean): string {
  let micros: bigint;
  if (typeof v === "string") micros = isoMicros(v);
  else if (v instanceof Date) micros = BigInt(v.getTime()) * 1000n;
  else if (typeof v === "bigint") micros = v;
  else throw new Error(`canonicalValue: bad timestamp ${String(v)}`);
  const msB = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n); // floor division
  const d = new Date(Number(msB));
  const s = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.` +
    `${pad(d.getUTCMilliseconds(), 3)}${pad(micros - msB * 1000n, 3)}`;
  return ntz ? s : s + "Z";
}

function canonicalDecimal(v: unknown, scale: number): string {
  if (typeof v === "number") v = v.toFixed(scale);
  if (typeof v === "bigint") v = v.toString();
  if (typeof v !== "string") throw new Error(`canonicalValue: bad decimal ${String(v)}`);
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(v.trim());
  if (!m) throw new Error(`canonicalValue: bad decimal ${JSON.stringify(v)}`);
  let [, sign, int, frac = ""] = m;
  int = (int ?? "").replace(/^0+(?=\d)/, "") || "0";
  if (frac.length < scale) frac = frac.padEnd(scale, "0");
  else if (frac.length > scale && /^0*$/.test(frac.slice(scale))) frac = frac.slice(0, scale);
  const zero = /^0*$/.test(int + frac);
  return `${sign === "-" && !zero ? "-" : ""}${int}${scale > 0 || frac ? "." + frac : ""}`;
}

function canonicalBinary(v: unknown): string {
  let bytes: Uint8Array;
  if (v instanceof Uint8Array) bytes = v;
  else if (typeof v === "string") bytes = Uint8Array.from(atob(v), (c) => c.charCodeAt(0));
  else throw new Error(`canonicalValue: bad binary ${String(v)}`);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
