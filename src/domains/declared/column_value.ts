/**
 * A JSON value turned into the value of its declared column, or the reason it does not fit:
 * every range and format is checked here, so what is accepted can always be written.
 *
 * | type | accepts | written as |
 * |---|---|---|
 * | string | a JSON string | string |
 * | long | a whole JSON number from -2^63 to 2^63-1 (`3.0` is 3) | number or bigint |
 * | integer | a whole JSON number from -2^31 to 2^31-1 | number |
 * | double | a finite JSON number (`1e400` is not) | number |
 * | boolean | `true` or `false` | boolean |
 * | decimal(p,s) | a JSON number, or a string holding one (`"12.50"`), with at most s digits after the point and p-s before | string |
 * | date | as its format reads it (ISO-8601: `YYYY-MM-DD` or a timestamp, whose UTC day it takes), years 0001-9999 | `YYYY-MM-DD` |
 * | timestamp | as its format reads it (ISO-8601 strings; epoch formats: JSON numbers), years 0001-9999 | bigint µs |
 * | struct<…> | a JSON object; its declared fields converted, absent ones null, others dropped | object |
 * | array<…> | a JSON array, each element converted | array |
 * | map<string,…> | a JSON object, each value converted | Map |
 *
 * Strings are never read as numbers, nor numbers as strings: `"42"` for a long is refused.
 * @module
 */
import { formatDate, toDays } from "../../core/values/date.ts";
import { formatDecimal, toUnscaled } from "../../core/values/decimal.ts";
import { plainNumberText } from "../../core/values/number_text.ts";
import { toMicros } from "../../core/values/timestamp.ts";
import { epochToMicros, inTimestampRange, microsToDays } from "../../core/values/timestamp_format.ts";
import { type ColumnType, typeText, type ValueFormat } from "./column_type.ts";
import { JsonNumber, numberText, numberValue } from "./exact_json.ts";
import type { PathStep } from "./json_path.ts";

/**
 * What {@link convertValue} makes of a value: the column's value; the reason it does not
 * fit (`at`: where below the converted value, `expected`, and the value `got`); or
 * `exact: false` when the answer needs the number's text as the record wrote it, which the
 * caller gets with `parseExactJson` before asking again.
 */
export type Converted =
  | { ok: true; value: unknown }
  | { ok: false; at: PathStep[]; expected: string; got: unknown }
  | { ok: "needs-text" };

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const RANGE = "between 0001-01-01 and 9999-12-31";

const NEEDS_TEXT: Converted = { ok: "needs-text" };
const ok = (value: unknown): Converted => ({ ok: true, value });
const refuse = (expected: string, got: unknown, at: PathStep[] = []): Converted => ({ ok: false, at, expected, got });

const isNumber = (v: unknown): v is number | JsonNumber => typeof v === "number" || v instanceof JsonNumber;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);

/** What a column of type `t` expects, for reasons. */
export function expectedOf(t: ColumnType): string {
  switch (t.kind) {
    case "string": return "a string";
    case "long": return "a long (a whole number from -9223372036854775808 to 9223372036854775807)";
    case "integer": return "an integer (a whole number from -2147483648 to 2147483647)";
    case "double": return "a double (a finite number)";
    case "boolean": return "a boolean (true or false)";
    case "decimal": return `a decimal(${t.precision},${t.scale}) (a number, or a string holding one, with at most ${t.precision - t.scale} digits before the point and ${t.scale} after)`;
    case "date": return `a date ${formatWords(t.format, "date")}`;
    case "timestamp": return `a timestamp ${formatWords(t.format, "timestamp")}`;
    case "struct": return `an object (${typeText(t)})`;
    case "array": return `an array (${typeText(t)})`;
    case "map": return `an object (${typeText(t)})`;
  }
}

function formatWords(f: ValueFormat, what: "date" | "timestamp"): string {
  switch (f.kind) {
    case "iso8601": return what === "date" ? "as 'YYYY-MM-DD' or an ISO-8601 timestamp" : "as an ISO-8601 string like '2025-03-01T08:00:00Z'";
    case "epoch": return `as a number of ${f.unit === "millis" ? "milliseconds" : f.unit === "micros" ? "microseconds" : "seconds"} since 1970-01-01 (epoch_${f.unit})`;
    case "pattern": return `in the format '${f.pattern.pattern}'`;
  }
}

/**
 * Converts a JSON value (not null: the caller decides what a missing value means) to the
 * value of a column of type `t`. `exact` says whether numbers carry their text
 * (`parseExactJson`); without it, a long beyond 2^53, any decimal number and a number that
 * is not finite ask for it (`needs-text`) rather than be judged on a rounded double.
 */
export function convertValue(v: unknown, t: ColumnType, exact: boolean): Converted {
  switch (t.kind) {
    case "string":
      return typeof v === "string" ? ok(v) : refuse(expectedOf(t), v);
    case "boolean":
      return typeof v === "boolean" ? ok(v) : refuse(expectedOf(t), v);
    case "integer": {
      if (!isNumber(v)) return refuse(expectedOf(t), v);
      const n = numberValue(v);
      if (!Number.isFinite(n) && !exact) return NEEDS_TEXT;
      return Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX ? ok(n) : refuse(expectedOf(t), v);
    }
    case "double": {
      if (!isNumber(v)) return refuse(expectedOf(t), v);
      const n = numberValue(v);
      if (Number.isFinite(n)) return ok(n);
      return exact ? refuse(expectedOf(t), v) : NEEDS_TEXT;
    }
    case "long":
      return convertLong(v, t, exact);
    case "decimal":
      return convertDecimal(v, t, exact);
    case "date":
    case "timestamp":
      return convertTime(v, t, exact);
    case "struct": {
      if (!isObject(v)) return refuse(expectedOf(t), v);
      const entries: [string, unknown][] = [];
      for (const f of t.fields) {
        const x = Object.hasOwn(v, f.name) ? v[f.name] : undefined;
        if (x === undefined || x === null) {
          entries.push([f.name, null]);
          continue;
        }
        const c = convertValue(x, f.type, exact);
        if (c.ok !== true) return below(c, { kind: "key", key: f.name });
        entries.push([f.name, c.value]);
      }
      // fromEntries defines the keys, so a field named __proto__ is a field like any other.
      return ok(Object.fromEntries(entries));
    }
    case "array": {
      if (!Array.isArray(v)) return refuse(expectedOf(t), v);
      const out: unknown[] = new Array(v.length);
      for (let k = 0; k < v.length; k++) {
        const x = v[k];
        if (x === null || x === undefined) {
          out[k] = null;
          continue;
        }
        const c = convertValue(x, t.element, exact);
        if (c.ok !== true) return below(c, { kind: "index", index: k });
        out[k] = c.value;
      }
      return ok(out);
    }
    case "map": {
      if (!isObject(v)) return refuse(expectedOf(t), v);
      const out = new Map<string, unknown>();
      for (const [key, x] of Object.entries(v)) {
        if (x === null) {
          out.set(key, null);
          continue;
        }
        const c = convertValue(x, t.value, exact);
        if (c.ok !== true) return below(c, { kind: "key", key });
        out.set(key, c.value);
      }
      return ok(out);
    }
  }
}

/** A nested refusal, its path one step longer. */
function below(c: Converted, step: PathStep): Converted {
  return c.ok === false ? { ...c, at: [step, ...c.at] } : c;
}

function convertLong(v: unknown, t: ColumnType, exact: boolean): Converted {
  if (!isNumber(v)) return refuse(expectedOf(t), v);
  const n = numberValue(v);
  // Up to 2^53 the double is the number; beyond, only the text tells which whole number it was.
  if (Number.isSafeInteger(n)) return ok(n === 0 ? 0 : n);
  if (!exact) return Number.isFinite(n) && !Number.isInteger(n) ? refuse(expectedOf(t), v) : NEEDS_TEXT;
  const plain = plainNumberText(numberText(v));
  const m = plain === undefined ? null : /^(-?\d+)(?:\.(\d*))?$/.exec(plain);
  if (!m || /[1-9]/.test(m[2] ?? "")) return refuse(expectedOf(t), v);
  const b = BigInt(m[1]!);
  if (b < INT64_MIN || b > INT64_MAX) return refuse(expectedOf(t), v);
  return ok(b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b);
}

function convertDecimal(v: unknown, t: Extract<ColumnType, { kind: "decimal" }>, exact: boolean): Converted {
  let text: string | undefined;
  if (isNumber(v)) {
    if (!exact) return NEEDS_TEXT;
    text = plainNumberText(numberText(v));
  } else if (typeof v === "string") text = v;
  else return refuse(expectedOf(t), v);
  const unscaled = text === undefined ? undefined : toUnscaled(text, t.scale);
  if (unscaled === undefined || unscaled >= 10n ** BigInt(t.precision) || unscaled <= -(10n ** BigInt(t.precision))) {
    return refuse(expectedOf(t), v);
  }
  return ok(formatDecimal(unscaled, t.scale));
}

function convertTime(v: unknown, t: Extract<ColumnType, { kind: "date" | "timestamp" }>, exact: boolean): Converted {
  let us: bigint | undefined;
  const f = t.format;
  if (f.kind === "epoch") {
    if (!isNumber(v)) return refuse(expectedOf(t), v);
    if (!Number.isFinite(numberValue(v)) && !exact) return NEEDS_TEXT;
    us = epochToMicros(numberValue(v), f.unit);
  } else {
    if (typeof v !== "string") return refuse(expectedOf(t), v);
    if (f.kind === "pattern") us = f.pattern.parse(v);
    else if (t.kind === "date" && v.length === 10) {
      const days = toDays(v);
      us = days === undefined ? undefined : BigInt(days) * 86_400_000_000n;
    } else us = toMicros(v);
  }
  if (us === undefined) return refuse(expectedOf(t), v);
  if (!inTimestampRange(us)) return refuse(`${expectedOf(t)} ${RANGE}`, v);
  return ok(t.kind === "timestamp" ? us : formatDate(microsToDays(us)));
}

/** A value as the record wrote it, short enough for a reason: `"42"`, `1.5`, `{"a":1}`, `1e400`. */
export function describeValue(v: unknown): string {
  let text: string;
  if (v === undefined) return "nothing";
  if (v instanceof JsonNumber) text = v.text;
  else if (typeof v === "number" && !Number.isFinite(v)) text = String(v);
  else {
    try {
      text = JSON.stringify(v) ?? String(v);
    } catch {
      text = String(v);
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
