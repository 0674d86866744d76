/**
 * Delta table schemas, in the JSON shape the protocol stores in `metaData.schemaString`.
 * Imports nothing: the Arrow conversion and the Delta log both build on it.
 * @module
 */

/** Delta's primitive type names; decimals are written `decimal(p,s)`. */
export type PrimitiveType =
  | "string"
  | "long"
  | "integer"
  | "short"
  | "byte"
  | "double"
  | "float"
  | "boolean"
  | "date"
  | "timestamp"
  /** A wall-clock time without a zone (the timestampNtz table feature); µs like `timestamp`. */
  | "timestamp_ntz"
  | "binary"
  | `decimal(${number},${number})`;

export type DataType = PrimitiveType | StructType | ArrayType | MapType;

export interface StructField {
  name: string;
  type: DataType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}

export interface StructType {
  type: "struct";
  fields: StructField[];
}

export interface ArrayType {
  type: "array";
  elementType: DataType;
  containsNull: boolean;
}

export interface MapType {
  type: "map";
  keyType: DataType;
  valueType: DataType;
  valueContainsNull: boolean;
}

/** A field, nullable unless said otherwise. */
export function field(name: string, type: DataType, nullable = true): StructField {
  return { name, type, nullable, metadata: {} };
}

export function struct(...fields: StructField[]): StructType {
  return { type: "struct", fields };
}

export function array(elementType: DataType, containsNull = true): ArrayType {
  return { type: "array", elementType, containsNull };
}

export function map(keyType: DataType, valueType: DataType, valueContainsNull = true): MapType {
  return { type: "map", keyType, valueType, valueContainsNull };
}

export function decimal(precision: number, scale: number): PrimitiveType {
  return `decimal(${precision},${scale})`;
}

/** Precision and scale of a `decimal(p,s)` type name, or `undefined` for other types. */
export function decimalParts(type: DataType): { precision: number; scale: number } | undefined {
  if (typeof type !== "string") return undefined;
  const m = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : undefined;
}

const PRIMITIVES = new Set(["string", "long", "integer", "short", "byte", "double", "float", "boolean", "date", "timestamp", "timestamp_ntz", "binary"]);

/**
 * Parses and checks a `schemaString`.
 * @throws {SchemaError} naming the path of the first field that is not a valid Delta type.
 */
export function parseSchema(schemaString: string): StructType {
  const parsed: unknown = JSON.parse(schemaString);
  checkType(parsed, "<root>");
  if (typeof parsed !== "object" || parsed === null || (parsed as { type?: unknown }).type !== "struct") {
    throw new SchemaError("The table schema must be a struct");
  }
  return parsed as StructType;
}

function checkType(t: unknown, at: string): void {
  if (typeof t === "string") {
    if (PRIMITIVES.has(t) || decimalParts(t as DataType)) return;
    // timestamp_ntz and others need table features this writer does not enable.
    throw new SchemaError(`Unsupported type '${t}' at ${at}`);
  }
  const o = t as { type?: unknown; fields?: unknown; elementType?: unknown; keyType?: unknown; valueType?: unknown };
  if (o?.type === "struct" && Array.isArray(o.fields)) {
    for (const f of o.fields as StructField[]) {
      if (typeof f.name !== "string") throw new SchemaError(`A field without a name in ${at}`);
      checkType(f.type, at === "<root>" ? f.name : `${at}.${f.name}`);
    }
    return;
  }
  if (o?.type === "array") return checkType(o.elementType, `${at}[]`);
  if (o?.type === "map") {
    checkType(o.keyType, `${at}.key`);
    return checkType(o.valueType, `${at}.value`);
  }
  throw new SchemaError(`Not a Delta type at ${at}: ${JSON.stringify(t)}`);
}

/** A schema that is not valid, or rows that do not fit it. */
export class SchemaError extends Error {
  override name = "SchemaError";
}
