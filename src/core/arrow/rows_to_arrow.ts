import * as arrow from "apache-arrow";
import { type DataType, decimalParts, SchemaError, type StructType } from "../schema/schema.ts";
import { toDays } from "../values/date.ts";
import { toUnscaled } from "../values/decimal.ts";
import { toMicros } from "../values/timestamp.ts";
import { arrowSchema, arrowType } from "./arrow_types.ts";
import { StringColumn } from "./column_builders.ts";

export type { BuiltBatch, ColumnStats, LeafStats, StructStats } from "./built_batch.ts";
import type { BuiltBatch, ColumnStats, LeafStats } from "./built_batch.ts";

type Row = Readonly<Record<string, unknown>>;

/** `arrow.makeData` without its per-type overloads, which do not fit generic builders. */
const makeData = arrow.makeData as unknown as (props: { type: arrow.DataType } & Record<string, unknown>) => arrow.Data;

/**
 * Builds one Arrow record batch from JS rows, column by column, with the batch's stats.
 *
 * Accepted values per Delta type (`null`/`undefined` are null):
 * string: string · long: number (integer) or bigint · integer/short/byte: integer number ·
 * double/float: number · boolean: boolean · date: `YYYY-MM-DD`, Date or days number ·
 * timestamp: Date, bigint µs, or an ISO-8601 string (no zone = UTC) · decimal: string,
 * number or bigint · binary: Uint8Array · struct: object · array: array ·
 * map: Map, plain object, or array of `[key, value]`.
 *
 * @throws {SchemaError} naming the column, the expected type and the value found.
 */
export function rowsToArrow(schema: StructType, rows: readonly Row[]): BuiltBatch {
  return columnsToArrow(schema, extractColumns(schema.fields.map((f) => f.name), rows), rows.length);
}

/**
 * {@link rowsToArrow} from values already split by column: `columns[k]` holds the values of
 * `schema.fields[k]`, each array `numRows` long (the values of `dataValues`, for a rewrite).
 * @throws {SchemaError} as {@link rowsToArrow}.
 */
export function columnsToArrow(schema: StructType, columns: readonly unknown[][], numRows: number): BuiltBatch {
  const children: arrow.Data[] = [];
  const stats = new Map<string, ColumnStats>();
  schema.fields.forEach((f, k) => {
    const built = buildColumn(f.type, f.nullable, columns[k]!, f.name);
    children.push(built.data);
    stats.set(f.name, built.stats);
  });
  const aSchema = arrowSchema(schema);
  const structData = makeData({
    type: new arrow.Struct(aSchema.fields),
    length: numRows,
    nullCount: 0,
    children,
  });
  return { batch: new arrow.RecordBatch(aSchema, structData as arrow.Data<arrow.Struct>), stats: { kind: "struct", fields: stats }, numRows };
}

interface Built {
  data: arrow.Data;
  stats: ColumnStats;
}

type Extractor = (rows: readonly (Row | null | undefined)[], out: unknown[][]) => void;
const extractors = new Map<string, Extractor>();

/**
 * Splits objects into one array per named property, in one pass. The loop is generated
 * per set of names so that each property read has a constant key: reading `row[name]`
 * with a variable name is a megamorphic lookup that took 60% of the conversion time.
 */
function extractColumns(names: readonly string[], rows: readonly (Row | null | undefined)[]): unknown[][] {
  const key = JSON.stringify(names);
  let extract = extractors.get(key);
  if (!extract) {
    const body = names.map((name, k) => `c${k}[i] = r[${JSON.stringify(name)}];`).join(" ");
    const decl = names.map((_, k) => `const c${k} = out[${k}];`).join(" ");
    extract = new Function(
      "rows",
      "out",
      `${decl} for (let i = 0; i < rows.length; i++) { const r = rows[i]; if (r == null) continue; ${body} }`,
    ) as Extractor;
    extractors.set(key, extract);
  }
  const out = names.map(() => new Array<unknown>(rows.length).fill(null));
  extract(rows, out);
  return out;
}

function buildColumn(type: DataType, nullable: boolean, values: unknown[], path: string): Built {
  const n = values.length;
  const { bitmap, nullCount } = validity(values, nullable, path);
  const common = { length: n, nullCount, ...(nullCount > 0 ? { nullBitmap: bitmap } : {}) };

  if (typeof type === "string") {
    switch (type) {
      case "string": return buildStrings(values, common, path);
      case "long": return buildLongs(values, common, path);
      case "integer": return buildInts(values, common, path, new Int32Array(n), new arrow.Int32(), -2147483648, 2147483647, "integer");
      case "short": return buildInts(values, common, path, new Int16Array(n), new arrow.Int16(), -32768, 32767, "short");
      case "byte": return buildInts(values, common, path, new Int8Array(n), new arrow.Int8(), -128, 127, "byte");
      case "double": return buildFloats(values, common, path, new Float64Array(n), new arrow.Float64(), "double");
      case "float": return buildFloats(values, common, path, new Float32Array(n), new arrow.Float32(), "float");
      case "boolean": return buildBools(values, common, path);
      case "date": return buildDates(values, common, path);
      case "timestamp": return buildTimestamps(values, common, path);
      case "timestamp_ntz": return buildTimestamps(values, common, path, false);
      case "binary": return buildBinary(values, common, path);
    }
    const dec = decimalParts(type);
    if (dec) return buildDecimals(values, common, path, dec.precision, dec.scale);
    throw new SchemaError(`Column '${path}': unsupported type '${type}'`);
  }
  switch (type.type) {
    case "struct": {
      const children: arrow.Data[] = [];
      const fields = new Map<string, ColumnStats>();
      for (const v of values) {
        if (v != null && (typeof v !== "object" || Array.isArray(v))) throw mismatch(path, "a struct (object)", v);
      }
      const columns = extractColumns(type.fields.map((f) => f.name), values as (Row | null | undefined)[]);
      type.fields.forEach((f, k) => {
        // A null struct makes its fields null in the file even when they are declared not null.
        const built = buildColumn(f.type, f.nullable || nullCount > 0, columns[k]!, `${path}.${f.name}`);
        children.push(built.data);
        fields.set(f.name, built.stats);
      });
      return { data: makeData({ type: arrowType(type) , ...common, children }), stats: { kind: "struct", fields } };
    }
    case "array": {
      const offsets = new Int32Array(n + 1);
      const flat: unknown[] = [];
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v != null) {
          if (!Array.isArray(v)) throw mismatch(path, "an array", v);
          for (const e of v) flat.push(e);
        }
        offsets[i + 1] = flat.length;
      }
      const child = buildColumn(type.elementType, type.containsNull, flat, `${path}[]`);
      return {
        data: makeData({ type: arrowType(type) as arrow.List, ...common, valueOffsets: offsets, child: child.data }),
        stats: { kind: "leaf", nullCount },
      };
    }
    case "map": {
      const offsets = new Int32Array(n + 1);
      const keys: unknown[] = [];
      const vals: unknown[] = [];
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v != null) {
          for (const [k, x] of mapEntries(v, path)) {
            keys.push(k);
            vals.push(x);
          }
        }
        offsets[i + 1] = keys.length;
      }
      const mapType = arrowType(type) as arrow.Map_;
      const k = buildColumn(type.keyType, false, keys, `${path}.key`);
      const x = buildColumn(type.valueType, type.valueContainsNull, vals, `${path}.value`);
      const entries = makeData({
        type: mapType.children[0]!.type as arrow.Struct,
        length: keys.length,
        nullCount: 0,
        children: [k.data, x.data],
      });
      return {
        data: makeData({ type: mapType, ...common, valueOffsets: offsets, child: entries }),
        stats: { kind: "leaf", nullCount },
      };
    }
  }
}

interface Common {
  length: number;
  nullCount: number;
  nullBitmap?: Uint8Array;
}

function validity(values: unknown[], nullable: boolean, path: string): { bitmap: Uint8Array; nullCount: number } {
  const bitmap = new Uint8Array((values.length + 7) >> 3);
  let nullCount = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] == null) nullCount++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  if (nullCount > 0 && !nullable) {
    throw new SchemaError(`Column '${path}' is not nullable but ${nullCount} value(s) are null`);
  }
  return { bitmap, nullCount };
}

function mismatch(path: string, expected: string, got: unknown): SchemaError {
  let shown: string;
  try {
    shown = typeof got === "bigint" ? `${got}n` : JSON.stringify(got) ?? String(got);
  } catch {
    shown = String(got);
  }
  if (shown.length > 80) shown = shown.slice(0, 77) + "...";
  return new SchemaError(`Column '${path}': expected ${expected}, got ${typeof got} ${shown}`);
}

function buildStrings(values: unknown[], _common: Common, path: string): Built {
  const col = new StringColumn(values.length);
  for (const v of values) {
    if (v != null && typeof v !== "string") throw mismatch(path, "a string", v);
    col.push(v as string | null | undefined);
  }
  // Nullability was checked with the validity above.
  return col.finish(path, true);
}

function buildBinary(values: unknown[], common: Common, path: string): Built {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v != null) {
      if (!(v instanceof Uint8Array)) throw mismatch(path, "binary (Uint8Array)", v);
      total += v.length;
    }
    offsets[i + 1] = total;
  }
  const buf = new Uint8Array(total);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v != null) buf.set(v as Uint8Array, offsets[i]!);
  }
  return {
    data: makeData({ type: new arrow.Binary(), ...common, valueOffsets: offsets, data: buf }),
    stats: { kind: "leaf", nullCount: common.nullCount },
  };
}

function buildLongs(values: unknown[], common: Common, path: string): Built {
  const n = values.length;
  const out = new BigInt64Array(n);
  let min: bigint | undefined;
  let max: bigint | undefined;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v == null) continue;
    let b: bigint;
    if (typeof v === "bigint") b = v;
    else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
    else throw mismatch(path, "a long (integer number or bigint)", v);
    if (b < -(2n ** 63n) || b >= 2n ** 63n) throw mismatch(path, "a long within 64 bits", v);
    out[i] = b;
    if (min === undefined || b < min) min = b;
    if (max === undefined || b > max) max = b;
  }
  return { data: makeData({ type: new arrow.Int64(), ...common, data: out }), stats: leaf(common.nullCount, min, max) };
}

function buildInts<T extends arrow.Int8 | arrow.Int16 | arrow.Int32>(
  values: unknown[], common: Common, path: string,
  out: Int8Array | Int16Array | Int32Array, type: T, lo: number, hi: number, name: string,
): Built {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v == null) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
      throw mismatch(path, `${name === "integer" ? "an" : "a"} ${name} (integer in ${lo}..${hi})`, v);
    }
    out[i] = v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const has = common.nullCount < values.length;
  return {
    data: makeData({ type, ...common, data: out } ),
    stats: leaf(common.nullCount, has ? min : undefined, has ? max : undefined),
  };
}

function buildFloats<T extends arrow.Float32 | arrow.Float64>(
  values: unknown[], common: Common, path: string, out: Float32Array | Float64Array, type: T, name: string,
): Built {
  let min = Infinity;
  let max = -Infinity;
  let nan = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v == null) continue;
    if (typeof v !== "number") throw mismatch(path, `a ${name} (number)`, v);
    out[i] = v;
    const stored = out[i]!; // the float32 value when narrowed
    if (Number.isNaN(stored)) nan = true;
    else {
      if (stored < min) min = stored;
      if (stored > max) max = stored;
    }
  }
  // NaN cannot be written in JSON stats; leaving min/max out is always safe for readers.
  const has = common.nullCount < values.length && !nan;
  return {
    data: makeData({ type, ...common, data: out } ),
    stats: leaf(common.nullCount, has ? min : undefined, has ? max : undefined),
  };
}

function buildBools(values: unknown[], common: Common, path: string): Built {
  const out = new Uint8Array((values.length + 7) >> 3);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v == null) continue;
    if (typeof v !== "boolean") throw mismatch(path, "a boolean", v);
    if (v) out[i >> 3]! |= 1 << (i & 7);
  }
  return { data: makeData({ type: new arrow.Bool(), ...common, data: out }), stats: { kind: "leaf", nullCount: common.nullCount } };
}

function buildDates(values: unknown[], common: Common, path: string): Built {
  const out = new Int32Array(values.length);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v == null) continue;
    const days = toDays(v);
    if (days === undefined) throw mismatch(path, "a date ('YYYY-MM-DD', Date or days since 1970-01-01)", v);
    out[i] = days;
    if (days < min) min = days;
    if (days > max) max = days;
  }
  const has = common.nullCount < values.length;
  return {
    data: makeData({ type: new arrow.DateDay(), ...common, data: out }),
    stats: leaf(common.nullCount, has ? min : undefined, has ? max : undefined),
  };
}

/** µs timestamps; `zoned` false for timestamp_ntz, whose values are wall-clock times read as if in UTC. */
function buildTimestamps(values: unknown[], common: Common, path: string, zoned = true): Built {
  const out = new BigInt64Array(values.length);
  let min: bigint | undefined;
  let max: bigint | undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v == null) continue;
    const us = toMicros(v);
    if (us === undefined) throw mismatch(path, "a timestamp (Date, bigint microseconds or ISO-8601 string)", v);
    out[i] = us;
    if (min === undefined || us < min) min = us;
    if (max === undefined || us > max) max = us;
  }
  return {
    data: makeData({ type: zoned ? new arrow.Timestamp(arrow.TimeUnit.MICROSECOND, "UTC") : new arrow.Timestamp(arrow.TimeUnit.MICROSECOND), ...common, data: out }),
    // A wall-clock time's JSON stats have no form that every engine reads alike: null counts only.
    stats: zoned ? leaf(common.nullCount, min, max) : { kind: "leaf", nullCount: common.nullCount },
  };
}

function buildDecimals(values: unknown[], common: Common, path: string, precision: number, scale: number): Built {
  const out = new Uint32Array(values.length * 4);
  const limit = 10n ** BigInt(precision);
  let min: bigint | undefined;
  let max: bigint | undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v == null) continue;
    const unscaled = toUnscaled(v, scale);
    if (unscaled === undefined || unscaled >= limit || unscaled <= -limit) {
      throw mismatch(path, `a decimal(${precision},${scale}) (string, number or bigint)`, v);
    }
    let x = BigInt.asUintN(128, unscaled);
    for (let w = 0; w < 4; w++) {
      out[i * 4 + w] = Number(x & 0xffffffffn);
      x >>= 32n;
    }
    if (min === undefined || unscaled < min) min = unscaled;
    if (max === undefined || unscaled > max) max = unscaled;
  }
  return {
    data: makeData({ type: new arrow.Decimal(scale, precision, 128), ...common, data: out }),
    stats: leaf(common.nullCount, min, max),
  };
}

function mapEntries(v: unknown, path: string): Iterable<[unknown, unknown]> {
  if (v instanceof Map) return v.entries();
  if (Array.isArray(v)) {
    for (const e of v) if (!Array.isArray(e) || e.length !== 2) throw mismatch(path, "a map entry [key, value]", e);
    return v as [unknown, unknown][];
  }
  if (typeof v === "object" && v !== null) return Object.entries(v);
  throw mismatch(path, "a map (Map, object or [key, value] pairs)", v);
}

function leaf(nullCount: number, min: number | bigint | string | undefined, max: number | bigint | string | undefined): LeafStats {
  const s: LeafStats = { kind: "leaf", nullCount };
  if (min !== undefined) s.min = min;
  if (max !== undefined) s.max = max;
  return s;
}
