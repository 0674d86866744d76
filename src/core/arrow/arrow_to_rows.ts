import * as arrow from "apache-arrow";
import { DAY_MS, formatDate } from "../values/date.ts";
import { formatDecimal } from "../values/decimal.ts";
import { microsToMillis } from "../values/timestamp.ts";

/**
 * Converts Arrow data to plain JS values, the inverse of `rowsToArrow`:
 * long → bigint · integer/short/byte/float/double → number · date → `YYYY-MM-DD` ·
 * timestamp (any unit, INT96 included) → `Date`, or bigint µs with `timestamps: "micros"` ·
 * decimal → string with `scale` digits · binary → Uint8Array · struct → object ·
 * list → array · map → `Map`.
 */
export function tableToRows(table: arrow.Table, options: ValueOptions = {}): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const batch of table.batches) {
    const struct = batch.data;
    const cols = batch.schema.fields.map((f, i) => ({ name: f.name, values: dataValues(struct.children[i]!, options) }));
    for (let r = 0; r < batch.numRows; r++) {
      const row: Record<string, unknown> = {};
      for (const c of cols) row[c.name] = c.values[r];
      rows.push(row);
    }
  }
  return rows;
}

export interface ValueOptions {
  /** Timestamps as `Date` (ms precision) or as exact bigint µs since the epoch. @default "date" */
  timestamps?: "date" | "micros";
}

function isValid(data: arrow.Data, i: number): boolean {
  const bm = data.nullBitmap;
  if (!bm || bm.length === 0 || data.nullCount === 0) return true;
  const j = data.offset + i;
  return (bm[j >> 3]! & (1 << (j & 7))) !== 0;
}

/** The values of `data` as a JS array of length `data.length`. */
export function dataValues(data: arrow.Data, options: ValueOptions = {}): unknown[] {
  const n = data.length;
  const out = new Array<unknown>(n);
  const t = data.type;
  const off = data.offset;
  const id = t.typeId;
  const T = arrow.Type;
  if (id === T.Null) return out.fill(null);
  if (id === T.Struct) {
    const fields = (t as arrow.Struct).children;
    const kids = fields.map((f, k) => ({ name: f.name, values: dataValues(data.children[k]!, options) }));
    for (let i = 0; i < n; i++) {
      if (!isValid(data, i)) { out[i] = null; continue; }
      const o: Record<string, unknown> = {};
      for (const k of kids) o[k.name] = k.values[off + i];
      out[i] = o;
    }
    return out;
  }
  if (id === T.List || id === T.Map) {
    const child = data.children[0]!;
    const vals = dataValues(child, options);
    const vo = data.valueOffsets as Int32Array;
    for (let i = 0; i < n; i++) {
      if (!isValid(data, i)) { out[i] = null; continue; }
      const a = vo[off + i]!;
      const b = vo[off + i + 1]!;
      if (id === T.List) out[i] = vals.slice(a, b);
      else {
        const m = new Map<unknown, unknown>();
        for (let j = a; j < b; j++) {
          const e = vals[j] as Record<string, unknown>;
          const keys = Object.keys(e);
          m.set(e[keys[0]!], e[keys[1]!]);
        }
        out[i] = m;
      }
    }
    return out;
  }
  if (id === T.Utf8 || id === T.LargeUtf8 || id === T.Binary || id === T.LargeBinary) {
    const vo = data.valueOffsets as Int32Array | BigInt64Array;
    const bytes = data.values as Uint8Array;
    const text = id === T.Utf8 || id === T.LargeUtf8;
    const dec = new TextDecoder();
    for (let i = 0; i < n; i++) {
      if (!isValid(data, i)) { out[i] = null; continue; }
      const a = Number(vo[off + i]!);
      const b = Number(vo[off + i + 1]!);
      out[i] = text ? dec.decode(bytes.subarray(a, b)) : bytes.slice(a, b);
    }
    return out;
  }
  if (id === T.Bool) {
    const bits = data.values as Uint8Array;
    for (let i = 0; i < n; i++) {
      const j = off + i;
      out[i] = isValid(data, i) ? (bits[j >> 3]! & (1 << (j & 7))) !== 0 : null;
    }
    return out;
  }
  if (id === T.Decimal) {
    const { scale, bitWidth } = t as arrow.Decimal;
    const words = bitWidth / 32;
    const v = data.values as Uint32Array;
    for (let i = 0; i < n; i++) {
      if (!isValid(data, i)) { out[i] = null; continue; }
      let x = 0n;
      for (let w = words - 1; w >= 0; w--) x = (x << 32n) | BigInt(v[(off + i) * words + w]!);
      out[i] = formatDecimal(BigInt.asIntN(bitWidth, x), scale);
    }
    return out;
  }
  if (id === T.Date) {
    const unit = (t as arrow.Date_).unit;
    const v = data.values as Int32Array | BigInt64Array;
    for (let i = 0; i < n; i++) {
      if (!isValid(data, i)) { out[i] = null; continue; }
      const days = unit === arrow.DateUnit.DAY ? Number(v[off + i]!) : Math.floor(Number(v[off + i]!) / DAY_MS);
      out[i] = formatDate(days);
    }
    return out;
  }
  if (id === T.Timestamp) {
    const unit = (t as arrow.Timestamp).unit;
    const v = data.values as BigInt64Array;
    for (let i = 0; i < n; i++) {
      if (!isValid(data, i)) { out[i] = null; continue; }
      const raw = BigInt(v[off + i]!);
      const us = unit === arrow.TimeUnit.SECOND ? raw * 1_000_000n
        : unit === arrow.TimeUnit.MILLISECOND ? raw * 1000n
        : unit === arrow.TimeUnit.MICROSECOND ? raw
        : floorDiv(raw, 1000n);
      out[i] = options.timestamps === "micros" ? us : new Date(Number(microsToMillis(us)));
    }
    return out;
  }
  if (id === T.Int && (t as arrow.Int).bitWidth === 64) {
    const v = data.values as BigInt64Array | BigUint64Array;
    for (let i = 0; i < n; i++) out[i] = isValid(data, i) ? BigInt(v[off + i]!) : null;
    return out;
  }
  if (id === T.Int || id === T.Float) {
    const v = data.values as Int32Array | Float64Array;
    if (id === T.Float && (t as arrow.Float).precision === arrow.Precision.HALF) {
      for (let i = 0; i < n; i++) out[i] = isValid(data, i) ? arrow.util.uint16ToFloat64(v[off + i]!) : null;
      return out;
    }
    for (let i = 0; i < n; i++) out[i] = isValid(data, i) ? v[off + i] : null;
    return out;
  }
  // Anything else (dictionary-encoded columns and the like): Arrow's own accessor.
  const vec = arrow.makeVector(data);
  for (let i = 0; i < n; i++) out[i] = vec.get(i);
  return out;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}
