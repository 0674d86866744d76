import * as arrow from "apache-arrow";
import type { ColumnAdoption } from "../schema/schema_adoption.ts";
import { SchemaError, type StructField, type StructType } from "../schema/schema.ts";
import { arrowSchema } from "./arrow_types.ts";
import { type BuiltBatch, type ColumnStats, rowsToArrow } from "./rows_to_arrow.ts";

type Row = Readonly<Record<string, unknown>>;

/** `arrow.makeData` without its per-type overloads. */
const makeData = arrow.makeData as unknown as (props: { type: arrow.DataType } & Record<string, unknown>) => arrow.Data;

/**
 * Builds a record batch for an adopted table (see `schema_adoption.ts`) from rows of the
 * produced schema: the table's data columns, in its order, with statistics of the table's
 * types.
 *
 * Columns written as they are come from one `rowsToArrow` over the rows themselves; the
 * converted ones and the ones nothing produces (all null) from a second one over their
 * converted values, so the row building path is the common one and only the columns that
 * differ pay for a conversion.
 *
 * @param columns the table's data columns (partition columns left out), in the table's order.
 * @throws {SchemaError} naming the column when a value does not fit.
 */
export function adoptedBatch(columns: readonly ColumnAdoption[], rows: readonly Row[]): BuiltBatch {
  const direct: StructField[] = [];
  const converted: ColumnAdoption[] = [];
  for (const c of columns) {
    // Read under the produced name, built with the table's nullability (a NOT NULL table column only takes a NOT NULL produced one).
    if (c.from && !c.convert && sameArrowType(c.from, c.field)) direct.push({ ...c.field, name: c.from.name });
    else converted.push(c);
  }
  const a = rowsToArrow({ type: "struct", fields: direct }, rows);
  let b: BuiltBatch | undefined;
  if (converted.length > 0) {
    const values = converted.map(() => new Array<unknown>(rows.length));
    converted.forEach((c, k) => {
      const out = values[k]!;
      const from = c.from?.name;
      const convert = c.convert;
      for (let i = 0; i < rows.length; i++) {
        const v = from === undefined ? null : rows[i]![from] ?? null;
        try {
          out[i] = v === null || !convert ? v : convert(v);
        } catch (err) {
          throw new SchemaError(`Column '${c.field.name}' (${c.how ?? "converted"}): ${(err as Error).message}`, { cause: err });
        }
      }
    });
    // Column names are the table's; the values were read from the produced names above.
    const names = converted.map((c) => c.field.name);
    const convertedRows = rows.map((_, i) => Object.fromEntries(names.map((n, k) => [n, values[k]![i]])));
    b = rowsToArrow({ type: "struct", fields: converted.map((c) => c.field) }, convertedRows);
  }
  const schema: StructType = { type: "struct", fields: columns.map((c) => c.field) };
  const children: arrow.Data[] = [];
  const stats = new Map<string, ColumnStats>();
  let d = 0;
  let k = 0;
  for (const c of columns) {
    // `direct` and `converted` keep the table's order: each column is the next of one of them.
    const [built, index, name] = converted[k] === c ? [b!, k++, c.field.name] : [a, d, direct[d++]!.name];
    children.push(built.batch.data.children[index]!);
    stats.set(c.field.name, built.stats.fields.get(name)!);
  }
  const aSchema = arrowSchema(schema);
  const data = makeData({ type: new arrow.Struct(aSchema.fields), length: rows.length, nullCount: 0, children });
  return { batch: new arrow.RecordBatch(aSchema, data as arrow.Data<arrow.Struct>), stats: { kind: "struct", fields: stats }, numRows: rows.length };
}

/** The produced column is stored exactly as the table's (nested nullability included; metadata aside). */
function sameArrowType(p: StructField, t: StructField): boolean {
  return JSON.stringify(strip(p.type)) === JSON.stringify(strip(t.type));
}

/** A type without metadata, for comparing storage. */
function strip(t: unknown): unknown {
  if (typeof t === "string") return t.replace(/\s+/g, "");
  const o = t as Record<string, unknown>;
  if (o.type === "struct") return { s: (o.fields as StructField[]).map((f) => [f.name, f.nullable, strip(f.type)]) };
  if (o.type === "array") return { a: [o.containsNull, strip(o.elementType)] };
  if (o.type === "map") return { m: [strip(o.keyType), o.valueContainsNull, strip(o.valueType)] };
  return t;
}

/**
 * The rows of a batch built for the produced schema (by the column builders), as the values
 * {@link adoptedBatch} takes: what a domain that builds columns hands an adopted table, whose
 * columns are converted row by row. Primitive columns only (the column builders make no other).
 * @throws {SchemaError} naming a column of a type it cannot read back.
 */
export function batchRows(batch: arrow.RecordBatch): Row[] {
  const rows: Record<string, unknown>[] = Array.from({ length: batch.numRows }, () => ({}));
  batch.schema.fields.forEach((f, k) => {
    const vector = batch.getChildAt(k)!;
    const t = vector.type;
    // Timestamps (µs) and dates (days) from their raw values: `get` gives milliseconds.
    const raw = arrow.DataType.isTimestamp(t) || arrow.DataType.isDate(t);
    if (!raw && !arrow.DataType.isUtf8(t) && !arrow.DataType.isInt(t) && !arrow.DataType.isFloat(t) && !arrow.DataType.isBool(t)) {
      throw new SchemaError(`Column '${f.name}' of type ${t} cannot be written into an adopted table from columns`);
    }
    let i = 0;
    for (const data of vector.data) {
      for (let j = 0; j < data.length; j++, i++) {
        const valid = vector.isValid(i);
        rows[i]![f.name] = !valid ? null : raw ? (data.values as ArrayLike<unknown>)[data.offset + j] : vector.get(i);
      }
    }
  });
  return rows;
}
