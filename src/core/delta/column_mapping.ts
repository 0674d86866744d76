/**
 * Column mapping in `name` mode (the `columnMapping` feature, `delta.columnMapping.mode` =
 * `name`): each column, nested ones included, has a physical name
 * (`delta.columnMapping.physicalName`) and an id (`delta.columnMapping.id`) in its schema
 * metadata. Data files, their statistics and partition values use the physical names; the
 * Parquet fields carry the ids. Tables are written under their logical names here and
 * mapped at the edge: a built batch before its file is written, rows after a file is read.
 * @module
 */
import * as arrow from "apache-arrow";
import type { BuiltBatch, ColumnStats, StructStats } from "../arrow/built_batch.ts";
import type { DataType, StructField, StructType } from "../schema/schema.ts";
import type { Metadata } from "./actions.ts";

const PHYSICAL = "delta.columnMapping.physicalName";
const ID = "delta.columnMapping.id";

/** The table's column mapping mode: `none`, `name` or `id`. */
export function columnMappingMode(m: Metadata | undefined): string {
  return (m?.configuration?.["delta.columnMapping.mode"] ?? "none").toLowerCase();
}

/** A field's physical name (its logical name when it has none). */
export function physicalName(f: StructField): string {
  const p = f.metadata?.[PHYSICAL];
  return typeof p === "string" && p !== "" ? p : f.name;
}

/** The physical names of top-level columns (partition columns), given by their logical names. */
export function physicalColumnNames(schema: StructType, names: readonly string[]): string[] {
  return names.map((c) => {
    const f = schema.fields.find((x) => x.name === c);
    return f ? physicalName(f) : c;
  });
}

/** The schema with every field, nested ones included, under its physical name. */
export function physicalSchema(schema: StructType): StructType {
  return { type: "struct", fields: schema.fields.map((f) => ({ ...f, name: physicalName(f), type: physicalType(f.type) })) };
}

function physicalType(t: DataType): DataType {
  if (typeof t === "string") return t;
  if (t.type === "struct") return physicalSchema(t);
  if (t.type === "array") return { ...t, elementType: physicalType(t.elementType) };
  return { ...t, keyType: physicalType(t.keyType), valueType: physicalType(t.valueType) };
}

/**
 * A batch built for the logical data schema, under physical names: Arrow fields renamed
 * and given their ids (`PARQUET:field_id`, which the Parquet writer keeps), statistics
 * renamed. The column data are shared, not copied.
 */
export function physicalBatch(built: BuiltBatch, logical: StructType): BuiltBatch {
  const fields: arrow.Field[] = [];
  const columns: arrow.Data[] = [];
  built.batch.schema.fields.forEach((af, i) => {
    const lf = logical.fields.find((f) => f.name === af.name);
    const data = built.batch.data.children[i]!;
    if (!lf) {
      fields.push(af);
      columns.push(data);
      return;
    }
    const mapped = mapData(data, lf.type);
    fields.push(new arrow.Field(physicalName(lf), mapped.type, af.nullable, withId(af.metadata, lf)));
    columns.push(mapped);
  });
  const schema = new arrow.Schema(fields, built.batch.schema.metadata);
  const root = arrow.makeData({ type: new arrow.Struct(fields), length: built.batch.numRows, nullCount: 0, children: columns });
  return { batch: new arrow.RecordBatch(schema, root), stats: physicalStats(built.stats, logical), numRows: built.numRows };
}

function withId(metadata: Map<string, string>, f: StructField): Map<string, string> {
  const out = new Map(metadata);
  const id = f.metadata?.[ID];
  if (typeof id === "number") out.set("PARQUET:field_id", String(id));
  return out;
}

/** Column data whose nested struct fields take their physical names (the buffers are shared). */
function mapData(data: arrow.Data, t: DataType): arrow.Data {
  if (typeof t === "string") return data;
  const type = data.type as arrow.DataType;
  if (t.type === "struct" && arrow.DataType.isStruct(type)) {
    const children = type.children.map((c, i) => {
      const lf = t.fields.find((f) => f.name === c.name);
      const child = mapData(data.children[i]!, lf?.type ?? "string");
      return { field: lf ? new arrow.Field(physicalName(lf), child.type, c.nullable, withId(c.metadata, lf)) : c, child };
    });
    return data.clone(new arrow.Struct(children.map((c) => c.field)), data.offset, data.length, data.nullCount, data.buffers, children.map((c) => c.child));
  }
  if (t.type === "array" && arrow.DataType.isList(type)) {
    const child = mapData(data.children[0]!, t.elementType);
    const f = type.children[0]!;
    return data.clone(new arrow.List(new arrow.Field(f.name, child.type, f.nullable, f.metadata)), data.offset, data.length, data.nullCount, data.buffers, [child]);
  }
  if (t.type === "map" && arrow.DataType.isMap(type)) {
    const entries = data.children[0]!;
    const entryType = entries.type as arrow.Struct;
    const key = mapData(entries.children[0]!, t.keyType);
    const value = mapData(entries.children[1]!, t.valueType);
    const kf = entryType.children[0]!;
    const vf = entryType.children[1]!;
    const struct = new arrow.Struct([new arrow.Field(kf.name, key.type, kf.nullable, kf.metadata), new arrow.Field(vf.name, value.type, vf.nullable, vf.metadata)]);
    const newEntries = entries.clone(struct, entries.offset, entries.length, entries.nullCount, entries.buffers, [key, value]);
    const ef = type.children[0]!;
    return data.clone(new arrow.Map_(new arrow.Field(ef.name, struct, ef.nullable, ef.metadata), type.keysSorted), data.offset, data.length, data.nullCount, data.buffers, [newEntries]);
  }
  return data;
}

function physicalStats(stats: StructStats, logical: StructType): StructStats {
  const fields = new Map<string, ColumnStats>();
  for (const [name, s] of stats.fields) {
    const f = logical.fields.find((x) => x.name === name);
    if (!f) {
      fields.set(name, s);
      continue;
    }
    fields.set(physicalName(f), s.kind === "struct" && typeof f.type === "object" && f.type.type === "struct" ? physicalStats(s, f.type) : s);
  }
  return { kind: "struct", fields };
}

/** A row read under physical names, under the logical ones (nested values too). */
export function logicalRow(row: Record<string, unknown>, logical: StructType): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of logical.fields) out[f.name] = logicalValue(row[physicalName(f)], f.type);
  return out;
}

function logicalValue(v: unknown, t: DataType): unknown {
  if (v === null || v === undefined || typeof t === "string") return v ?? null;
  if (t.type === "struct") return logicalRow(v as Record<string, unknown>, t);
  if (t.type === "array") return Array.isArray(v) ? v.map((x) => logicalValue(x, t.elementType)) : v;
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [logicalValue(k, t.keyType), logicalValue(x, t.valueType)]));
  return v;
}

/**
 * Fields new to a column-mapped table, each (nested ones too) with the next id after
 * `maxId` and a physical name `col-<uuid>`, as Spark names them; returns the new maximum id.
 */
export function withColumnMapping(fields: readonly StructField[], maxId: number): { fields: StructField[]; maxId: number } {
  let id = maxId;
  const mapField = (f: StructField): StructField => {
    const type = mapType(f.type);
    return { ...f, type, metadata: { ...f.metadata, [ID]: ++id, [PHYSICAL]: `col-${crypto.randomUUID()}` } };
  };
  const mapType = (t: DataType): DataType => {
    if (typeof t === "string") return t;
    if (t.type === "struct") return { type: "struct", fields: t.fields.map(mapField) };
    if (t.type === "array") return { ...t, elementType: mapType(t.elementType) };
    return { ...t, keyType: mapType(t.keyType), valueType: mapType(t.valueType) };
  };
  const out = fields.map(mapField);
  return { fields: out, maxId: id };
}
