import { type DataType, decimalParts, SchemaError } from "../schema/schema.ts";
import { formatDecimal } from "../values/decimal.ts";
import { formatTimestamp, microsToMillis, toMicros } from "../values/timestamp.ts";

/** The folder name Hive and Spark use for a null partition value. */
export const NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__";

// Hive's escapePathName set: control characters and "#%'*/:=?\{[]^ plus DEL.
const ESCAPE = /[\u0001-\u001f"#%'*/:=?\\\u007f{[\]^]/g;

/** Escapes a partition column name or value for a folder name, as Hive and Spark do. */
export function escapePartition(s: string): string {
  return s.replace(ESCAPE, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"));
}

/** Reverses {@link escapePartition}. */
export function unescapePartition(s: string): string {
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * The folder of a file with these partition values, e.g. `country=ES/day=2024-01-01/`
 * (not URI-encoded: this is the object key).
 */
export function partitionFolder(columns: readonly string[], values: Readonly<Record<string, string | null>>): string {
  let out = "";
  for (const c of columns) {
    const v = values[c];
    out += `${escapePartition(c)}=${v == null ? NULL_PARTITION : escapePartition(v)}/`;
  }
  return out;
}

/** An object key as the `path` of an add or remove action: each segment URI-encoded. */
export function keyToActionPath(key: string): string {
  return key.split("/").map((seg) => encodeURIComponent(seg).replaceAll("%3D", "=")).join("/");
}

/** The object key an action's `path` names (relative paths only). */
export function actionPathToKey(path: string): string {
  return decodeURIComponent(path);
}

/**
 * The object key of an absolute, URI-encoded path (`file:`, `s3://…`) inside the table at
 * `tableUrl`, or undefined when it lies outside it.
 */
export function absolutePathToKey(tableUrl: string, path: string): string | undefined {
  const plain = (u: string) => (u.startsWith("file:") ? u.replace(/^file:(\/\/)?/, "/") : u);
  const root = plain(tableUrl.replace(/\/+$/, "") + "/");
  const p = plain(path);
  return p.startsWith(root) ? decodeURIComponent(p.slice(root.length)) : undefined;
}

/**
 * The string a partition value is stored as in `partitionValues` (null for null; Spark
 * also stores the empty string as null).
 * @throws {SchemaError} when the value does not fit the column's type.
 */
export function serializePartitionValue(type: DataType, v: unknown, column: string): string | null {
  if (v == null || v === "") return null;
  const bad = () => new SchemaError(`Partition column '${column}': ${JSON.stringify(String(v))} is not a ${JSON.stringify(type)}`);
  switch (type) {
    case "string":
      if (typeof v !== "string") throw bad();
      return v;
    case "long": case "integer": case "short": case "byte":
      if ((typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint") return String(v);
      throw bad();
    case "double": case "float":
      if (typeof v === "number") return String(v);
      throw bad();
    case "boolean":
      if (typeof v === "boolean") return String(v);
      throw bad();
    case "date": {
      if (typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v)) return v;
      if (v instanceof Date) return v.toISOString().slice(0, 10);
      throw bad();
    }
    case "timestamp": {
      const us = toMicros(v);
      if (us === undefined) throw bad();
      return formatTimestamp(us, "T") + "Z";
    }
    case "timestamp_ntz": {
      // A wall-clock time: no zone, as Spark writes it.
      const us = toMicros(v);
      if (us === undefined) throw bad();
      return formatTimestamp(us, " ");
    }
  }
  const dec = decimalParts(type);
  if (dec && (typeof v === "string" || typeof v === "number")) return String(v);
  throw bad();
}

/** Parses a `partitionValues` string back to the JS value `tableToRows` gives for its type. */
export function parsePartitionValue(type: DataType, s: string | null | undefined): unknown {
  if (s == null) return null;
  switch (type) {
    case "string": return s;
    case "long": return BigInt(s);
    case "integer": case "short": case "byte": case "double": case "float": return Number(s);
    case "boolean": return s === "true";
    case "date": return s;
    case "timestamp": {
      const us = toMicros(s);
      return us === undefined ? null : new Date(Number(microsToMillis(us)));
    }
    case "timestamp_ntz":
      return toMicros(s) ?? null;
  }
  const dec = decimalParts(type);
  if (dec) {
    const [i = "0", f = ""] = s.replace(/^\+/, "").split(".");
    const neg = i.startsWith("-");
    const unscaled = BigInt((neg ? i.slice(1) : i) + f.padEnd(dec.scale, "0").slice(0, dec.scale));
    return formatDecimal(neg ? -unscaled : unscaled, dec.scale);
  }
  return s;
}
