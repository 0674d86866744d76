/**
 * The type of a declared column, as a tables file writes it, and the Delta type it is
 * stored as.
 *
 * ```
 * string  long  integer  double  boolean  date  timestamp
 * decimal(p,s)                      1 <= p <= 38, 0 <= s <= p
 * struct<name:type, other:type>     a JSON object; fields absent from it are null, other keys are dropped
 * array<type>                       a JSON array
 * map<string,type>                  a JSON object with any keys
 * ```
 *
 * Struct field names are letters, digits and `_` (not starting with a digit), or any text
 * in backquotes: ``struct<`user agent`:string>``. Dates and timestamps inside a struct, an
 * array or a map are read as ISO-8601; a top-level date or timestamp column may name
 * another format (see {@link ValueFormat}).
 * @module
 */
import { type DataType, array, decimal, field, map, struct } from "../../core/schema/schema.ts";
import { compileTimestampPattern, type EpochUnit, type TimestampPattern } from "../../core/values/timestamp_format.ts";

/** How a date or timestamp is written in the record. */
export type ValueFormat =
  | { kind: "iso8601" }
  | { kind: "epoch"; unit: EpochUnit }
  | { kind: "pattern"; pattern: TimestampPattern };

/** A column's type, parsed. */
export type ColumnType =
  | { kind: "string" | "long" | "integer" | "double" | "boolean" }
  | { kind: "date" | "timestamp"; format: ValueFormat }
  | { kind: "decimal"; precision: number; scale: number }
  | { kind: "struct"; fields: { name: string; type: ColumnType }[] }
  | { kind: "array"; element: ColumnType }
  | { kind: "map"; value: ColumnType };

/** The primitive type names, in the order messages list them. */
export const PRIMITIVE_TYPES = ["string", "long", "integer", "double", "boolean", "date", "timestamp"] as const;

/** The largest precision of a Delta decimal. */
export const MAX_DECIMAL_PRECISION = 38;

const ISO8601: ValueFormat = { kind: "iso8601" };

/** A type text that does not follow the syntax; the message says where and what was expected. */
export class ColumnTypeError extends Error {
  override name = "ColumnTypeError";
}

const EXPECTED_TYPE = `a type: ${PRIMITIVE_TYPES.join(", ")}, decimal(p,s), struct<name:type, …>, array<type> or map<string,type>`;

/**
 * Parses a type text.
 * @example parseColumnType("array<struct<sku:string, qty:integer>>")
 * @throws {ColumnTypeError} naming the position, what was found and what was expected.
 */
export function parseColumnType(text: string): ColumnType {
  let i = 0;
  const skip = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (expected: string): never => {
    const found = i >= text.length ? "the end" : `'${text.slice(i, i + 12)}'`;
    throw new ColumnTypeError(`the type '${text}' has ${found} at position ${i + 1}: expected ${expected}`);
  };
  const eat = (c: string) => {
    skip();
    if (text[i] !== c) fail(`'${c}'`);
    i++;
  };
  const word = (): string => {
    skip();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    return m ? m[0] : "";
  };
  const int = (what: string): number => {
    skip();
    const m = /^\d+/.exec(text.slice(i));
    if (!m) fail(what);
    i += m![0].length;
    return Number(m![0]);
  };
  const type = (): ColumnType => {
    const start = i;
    const w = word();
    i += w.length;
    switch (w) {
      case "string": case "long": case "integer": case "double": case "boolean":
        return { kind: w };
      case "date": case "timestamp":
        return { kind: w, format: ISO8601 };
      case "decimal": {
        eat("(");
        const precision = int("the precision, a whole number");
        eat(",");
        const scale = int("the scale, a whole number");
        eat(")");
        if (precision < 1 || precision > MAX_DECIMAL_PRECISION || scale > precision) {
          i = start;
          fail(`decimal(p,s) with 1 <= p <= ${MAX_DECIMAL_PRECISION} and 0 <= s <= p, not decimal(${precision},${scale})`);
        }
        return { kind: "decimal", precision, scale };
      }
      case "array": {
        eat("<");
        const element = type();
        eat(">");
        return { kind: "array", element };
      }
      case "map": {
        eat("<");
        const k = word();
        if (k !== "string") fail("'string' (map keys are JSON object keys, so strings)");
        i += k.length;
        eat(",");
        const value = type();
        eat(">");
        return { kind: "map", value };
      }
      case "struct": {
        eat("<");
        const fields: { name: string; type: ColumnType }[] = [];
        do {
          skip();
          let name: string;
          if (text[i] === "`") {
            const end = text.indexOf("`", i + 1);
            if (end < 0) fail("the closing ` of the field name");
            name = text.slice(i + 1, end);
            if (name === "") fail("a field name between the backquotes");
            i = end + 1;
          } else {
            name = word();
            if (!name) fail("a field name (letters, digits and _; quote others in backquotes)");
            i += name.length;
          }
          if (fields.some((f) => f.name.toLowerCase() === name.toLowerCase())) fail(`fields with different names (readers ignore case): '${name}' is there twice`);
          eat(":");
          fields.push({ name, type: type() });
          skip();
        } while (text[i] === "," && ++i);
        eat(">");
        return { kind: "struct", fields };
      }
    }
    i = start;
    return fail(EXPECTED_TYPE);
  };
  const t = type();
  skip();
  if (i < text.length) fail("the end of the type");
  return t;
}

/**
 * Parses a `format` of a date or timestamp column: `iso8601`, `epoch_seconds`,
 * `epoch_millis`, `epoch_micros`, or a strftime-style pattern such as `%Y-%m-%d %H:%M:%S`.
 * @throws {ColumnTypeError} when it is none of these, or a pattern that cannot be compiled.
 */
export function parseValueFormat(text: string): ValueFormat {
  switch (text) {
    case "iso8601": return ISO8601;
    case "epoch_seconds": return { kind: "epoch", unit: "seconds" };
    case "epoch_millis": return { kind: "epoch", unit: "millis" };
    case "epoch_micros": return { kind: "epoch", unit: "micros" };
  }
  if (!text.includes("%")) {
    throw new ColumnTypeError(`the format '${text}' is not one: expected iso8601, epoch_seconds, epoch_millis, epoch_micros or a pattern like '%Y-%m-%d %H:%M:%S'`);
  }
  try {
    return { kind: "pattern", pattern: compileTimestampPattern(text) };
  } catch (err) {
    throw new ColumnTypeError((err as Error).message, { cause: err });
  }
}

/** The format's text, as a tables file writes it. */
export function formatText(f: ValueFormat): string {
  return f.kind === "iso8601" ? "iso8601" : f.kind === "epoch" ? `epoch_${f.unit}` : f.pattern.pattern;
}

/** The type as text, in the syntax {@link parseColumnType} reads. */
export function typeText(t: ColumnType): string {
  switch (t.kind) {
    case "decimal": return `decimal(${t.precision},${t.scale})`;
    case "array": return `array<${typeText(t.element)}>`;
    case "map": return `map<string,${typeText(t.value)}>`;
    case "struct": return `struct<${t.fields.map((f) => `${/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.name) ? f.name : `\`${f.name}\``}:${typeText(f.type)}`).join(",")}>`;
    default: return t.kind;
  }
}

/** The Delta type a column of this type is stored as (every level nullable). */
export function deltaType(t: ColumnType): DataType {
  switch (t.kind) {
    case "decimal": return decimal(t.precision, t.scale);
    case "array": return array(deltaType(t.element), true);
    case "map": return map("string", deltaType(t.value), true);
    case "struct": return struct(...t.fields.map((f) => field(f.name, deltaType(f.type), true)));
    default: return t.kind;
  }
}
