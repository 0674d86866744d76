import * as arrow from "apache-arrow";
import { SchemaError, type StructType } from "../schema/schema.ts";
import { compareUtf8 } from "../../util/utf8_order.ts";
import { arrowSchema } from "./arrow_types.ts";
import type { BuiltBatch, ColumnStats, LeafStats } from "./built_batch.ts";

/**
 * Column builders: values appended one at a time straight into Arrow buffers, with the
 * column's statistics kept while appending (no second pass, no row objects). A domain that
 * knows its values' types builds its tables' columns with these; `rowsToArrow` uses the
 * string builder too, so both paths give the same bytes and the same statistics.
 *
 * Values are taken as they are: a builder checks nothing but nullability (at `finish`).
 * @module
 */

/** `arrow.makeData` without its per-type overloads, which do not fit generic builders. */
const makeData = arrow.makeData as unknown as (props: { type: arrow.DataType } & Record<string, unknown>) => arrow.Data;

/** A finished column: its Arrow data and statistics. */
export interface BuiltColumn {
  data: arrow.Data;
  stats: ColumnStats;
}

export interface ColumnBuilder {
  readonly length: number;
  /** The column as Arrow data with its statistics; the builder must not be used after. */
  finish(path: string, nullable: boolean): BuiltColumn;
}

/** A validity bitmap that grows with the column; all valid until a null is set. */
class Validity {
  bits: Uint8Array;
  nulls = 0;

  constructor(capacity: number) {
    this.bits = new Uint8Array((capacity + 7) >> 3);
  }

  /** Marks value `i` valid (the bitmap grows as needed). */
  set(i: number): void {
    const byte = i >> 3;
    if (byte >= this.bits.length) this.#grow(byte + 1);
    this.bits[byte]! |= 1 << (i & 7);
  }

  #grow(min: number): void {
    const bigger = new Uint8Array(Math.max(min, this.bits.length * 2));
    bigger.set(this.bits);
    this.bits = bigger;
  }

  common(n: number, path: string, nullable: boolean): { length: number; nullCount: number; nullBitmap?: Uint8Array } {
    if (this.nulls > 0 && !nullable) throw new SchemaError(`Column '${path}' is not nullable but ${this.nulls} value(s) are null`);
    if (this.nulls === 0) return { length: n, nullCount: 0 };
    const bytes = (n + 7) >> 3;
    if (this.bits.length < bytes) this.#grow(bytes);
    return { length: n, nullCount: this.nulls, nullBitmap: this.bits.subarray(0, bytes) };
  }
}

function leaf(nullCount: number, min: number | bigint | string | undefined, max: number | bigint | string | undefined): LeafStats {
  const s: LeafStats = { kind: "leaf", nullCount };
  if (min !== undefined) s.min = min;
  if (max !== undefined) s.max = max;
  return s;
}

const encoder = new TextEncoder();

/**
 * A UTF-8 string column (Arrow Utf8) with min/max in UTF-8 byte order, as Parquet and
 * Delta compare strings. JavaScript's `<` agrees with that order for strings whose code
 * units are all below U+D800; the few strings that are not are kept aside and compared
 * with `compareUtf8` at `finish`.
 */
export class StringColumn implements ColumnBuilder {
  #offsets: Int32Array;
  #buf: Uint8Array;
  #pos = 0;
  #n = 0;
  readonly #valid: Validity;
  #min: string | undefined;
  #max: string | undefined;
  /** Values holding a code unit at or above U+D800. */
  #high: string[] | undefined;

  /** @param capacity values expected (the buffers grow past it). */
  constructor(capacity = 1024, bytesPerValue = 16) {
    this.#offsets = new Int32Array(capacity + 1);
    this.#buf = new Uint8Array(Math.max(64, capacity * bytesPerValue));
    this.#valid = new Validity(capacity);
  }

  get length(): number {
    return this.#n;
  }

  push(v: string | null | undefined): void {
    const i = this.#n++;
    if (i + 1 >= this.#offsets.length) {
      const bigger = new Int32Array(this.#offsets.length * 2);
      bigger.set(this.#offsets);
      this.#offsets = bigger;
    }
    if (v == null) {
      this.#valid.nulls++;
      this.#offsets[i + 1] = this.#pos;
      return;
    }
    this.#valid.set(i);
    const len = v.length;
    let buf = this.#buf;
    let pos = this.#pos;
    if (buf.length - pos < len * 3) {
      const bigger = new Uint8Array(Math.max(buf.length * 2, pos + len * 3));
      bigger.set(buf.subarray(0, pos));
      this.#buf = buf = bigger;
    }
    // ASCII fast path: a JS loop beats a native call for short strings.
    let j = 0;
    for (; j < len; j++) {
      const c = v.charCodeAt(j);
      if (c >= 0x80) break;
      buf[pos++] = c;
    }
    let high = false;
    if (j < len) {
      const rest = j === 0 ? v : v.slice(j);
      pos += encoder.encodeInto(rest, buf.subarray(pos)).written;
      for (let k = 0; k < rest.length; k++) {
        if (rest.charCodeAt(k) >= 0xd800) {
          high = true;
          break;
        }
      }
    }
    this.#pos = pos;
    this.#offsets[i + 1] = pos;
    if (high) (this.#high ??= []).push(v);
    else {
      // min <= max: a value above max is not below min (one comparison for rising ids).
      const max = this.#max;
      if (max === undefined) this.#min = this.#max = v;
      else if (v > max) this.#max = v;
      else if (v < this.#min!) this.#min = v;
    }
  }

  finish(path: string, nullable: boolean): BuiltColumn {
    const n = this.#n;
    const common = this.#valid.common(n, path, nullable);
    let min = this.#min;
    let max = this.#max;
    for (const v of this.#high ?? []) {
      if (min === undefined || compareUtf8(v, min) < 0) min = v;
      if (max === undefined || compareUtf8(v, max) > 0) max = v;
    }
    return {
      data: makeData({ type: new arrow.Utf8(), ...common, valueOffsets: this.#offsets.subarray(0, n + 1), data: this.#buf.subarray(0, this.#pos) }),
      stats: leaf(common.nullCount, min, max),
    };
  }
}

/** A double column (Arrow Float64). NaN leaves min/max out, as `rowsToArrow` does. */
export class DoubleColumn implements ColumnBuilder {
  #out: Float64Array;
  #n = 0;
  readonly #valid: Validity;
  #min = Infinity;
  #max = -Infinity;
  #nan = false;

  constructor(capacity = 1024) {
    this.#out = new Float64Array(capacity);
    this.#valid = new Validity(capacity);
  }

  get length(): number {
    return this.#n;
  }

  push(v: number | null | undefined): void {
    const i = this.#n++;
    if (i >= this.#out.length) {
      const bigger = new Float64Array(this.#out.length * 2);
      bigger.set(this.#out);
      this.#out = bigger;
    }
    if (v == null) {
      this.#valid.nulls++;
      return;
    }
    this.#valid.set(i);
    this.#out[i] = v;
    if (v !== v) this.#nan = true;
    else {
      if (v < this.#min) this.#min = v;
      if (v > this.#max) this.#max = v;
    }
  }

  finish(path: string, nullable: boolean): BuiltColumn {
    const n = this.#n;
    const common = this.#valid.common(n, path, nullable);
    const has = common.nullCount < n && !this.#nan;
    return {
      data: makeData({ type: new arrow.Float64(), ...common, data: this.#out.subarray(0, n) }),
      stats: leaf(common.nullCount, has ? this.#min : undefined, has ? this.#max : undefined),
    };
  }
}

/** A 32-bit integer column (Arrow Int32); values must be integers in range (not checked). */
export class IntColumn implements ColumnBuilder {
  #out: Int32Array;
  #n = 0;
  readonly #valid: Validity;
  #min = Infinity;
  #max = -Infinity;

  constructor(capacity = 1024) {
    this.#out = new Int32Array(capacity);
    this.#valid = new Validity(capacity);
  }

  get length(): number {
    return this.#n;
  }

  push(v: number | null | undefined): void {
    const i = this.#n++;
    if (i >= this.#out.length) {
      const bigger = new Int32Array(this.#out.length * 2);
      bigger.set(this.#out);
      this.#out = bigger;
    }
    if (v == null) {
      this.#valid.nulls++;
      return;
    }
    this.#valid.set(i);
    this.#out[i] = v;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  finish(path: string, nullable: boolean): BuiltColumn {
    const n = this.#n;
    const common = this.#valid.common(n, path, nullable);
    const has = common.nullCount < n;
    return {
      data: makeData({ type: new arrow.Int32(), ...common, data: this.#out.subarray(0, n) }),
      stats: leaf(common.nullCount, has ? this.#min : undefined, has ? this.#max : undefined),
    };
  }
}

const TWO_32 = 4294967296;

/**
 * A timestamp column (Arrow Timestamp µs, UTC). Takes microseconds as a safe integer
 * number (written as two 32-bit words, no BigInt per value) or as a bigint.
 */
export class TimestampColumn implements ColumnBuilder {
  #words: Int32Array;
  #n = 0;
  readonly #valid: Validity;
  #min: number | bigint | undefined;
  #max: number | bigint | undefined;

  constructor(capacity = 1024) {
    this.#words = new Int32Array(capacity * 2);
    this.#valid = new Validity(capacity);
  }

  get length(): number {
    return this.#n;
  }

  /** @param us µs since the epoch: a safe integer number, a bigint, or null. */
  push(us: number | bigint | null | undefined): void {
    const i = this.#n++;
    if (2 * i >= this.#words.length) {
      const bigger = new Int32Array(this.#words.length * 2);
      bigger.set(this.#words);
      this.#words = bigger;
    }
    if (us == null) {
      this.#valid.nulls++;
      return;
    }
    this.#valid.set(i);
    if (typeof us === "number") {
      const hi = Math.floor(us / TWO_32);
      this.#words[2 * i] = us - hi * TWO_32; // low word, as unsigned bits
      this.#words[2 * i + 1] = hi;
    } else {
      this.#words[2 * i] = Number(BigInt.asIntN(32, us));
      this.#words[2 * i + 1] = Number(BigInt.asIntN(32, us >> 32n));
    }
    // Mixed number/bigint comparisons are exact in JavaScript.
    if (this.#min === undefined || us < this.#min) this.#min = us;
    if (this.#max === undefined || us > this.#max) this.#max = us;
  }

  finish(path: string, nullable: boolean): BuiltColumn {
    const n = this.#n;
    const common = this.#valid.common(n, path, nullable);
    const data = new BigInt64Array(this.#words.buffer, this.#words.byteOffset, n);
    const big = (x: number | bigint | undefined) => (x === undefined ? undefined : BigInt(x));
    return {
      data: makeData({ type: new arrow.Timestamp(arrow.TimeUnit.MICROSECOND, "UTC"), ...common, data }),
      stats: leaf(common.nullCount, big(this.#min), big(this.#max)),
    };
  }
}

/**
 * One record batch of `schema` from one builder per field (in the schema's order, all of
 * the same length), with its statistics, as `rowsToArrow` gives it.
 * @throws {SchemaError} when the builders do not match the schema, or a non-nullable
 *   column holds a null.
 */
export function finishBatch(schema: StructType, columns: readonly ColumnBuilder[]): BuiltBatch {
  if (columns.length !== schema.fields.length) throw new SchemaError(`Expected ${schema.fields.length} columns, got ${columns.length}`);
  const numRows = columns[0]?.length ?? 0;
  const children: arrow.Data[] = [];
  const stats = new Map<string, ColumnStats>();
  schema.fields.forEach((f, k) => {
    const c = columns[k]!;
    if (c.length !== numRows) throw new SchemaError(`Column '${f.name}' has ${c.length} values, expected ${numRows}`);
    const built = c.finish(f.name, f.nullable);
    children.push(built.data);
    stats.set(f.name, built.stats);
  });
  const aSchema = arrowSchema(schema);
  const structData = makeData({ type: new arrow.Struct(aSchema.fields), length: numRows, nullCount: 0, children });
  return { batch: new arrow.RecordBatch(aSchema, structData as arrow.Data<arrow.Struct>), stats: { kind: "struct", fields: stats }, numRows };
}
