/**
 * The tables file: which tables a JSON stream lands in, their columns as JSON paths with
 * Delta types, the required ones, the array a table explodes and its partition columns.
 * TOML, YAML or JSON, chosen by the file's extension; the same structure in each:
 *
 * ```toml
 * quarantine = "clickstream/quarantine"   # where refused records go (default "quarantine")
 * max_rows_per_record = 10000             # a record making more rows in one table is refused (default 10000)
 *
 * [tables.page_views]
 * location = "clickstream/page_views"     # under the tables root, or s3://…, s3a://…, file://…, /abs/path
 * partition_by = ["view_date"]            # optional
 * description = "One row per page view"   # optional, stored in the table's metadata
 *
 * [tables.page_views.columns]
 * event_id  = { path = "$.event_id", type = "string", required = true }
 * viewed_at = { path = "$.ts", type = "timestamp", format = "%Y-%m-%d %H:%M:%S" }
 * view_date = { path = "$.ts", type = "date", format = "%Y-%m-%d %H:%M:%S" }
 * ```
 *
 * Paths: `json_path.ts`. Types: `column_type.ts`. Values: `column_value.ts`. Names of
 * tables and columns are letters, digits and `_`, not starting with a digit; column names
 * are unique within a table ignoring case, as Spark reads them.
 * @module
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import * as v from "valibot";
import { parseDocument } from "yaml";
import { type ColumnType, parseColumnType, parseValueFormat, typeText } from "./column_type.ts";
import { formatJsonPath, type JsonPath, parseJsonPath, type PathStep, splitAtEach } from "./json_path.ts";

/** A tables file that cannot be read or does not declare valid tables; the message names the file, the key and what was expected. */
export class TablesFileError extends Error {
  override name = "TablesFileError";
}

/** One declared column. */
export interface DeclaredColumn {
  name: string;
  /** Where its value is in the record. */
  path: JsonPath;
  type: ColumnType;
  /** A record without a value here (absent or null) is refused. */
  required: boolean;
}

/** One declared table. */
export interface DeclaredTable {
  name: string;
  /** As written: relative to the tables root, or an absolute URI or path. */
  location: string;
  description?: string;
  partitionBy: string[];
  columns: DeclaredColumn[];
  /** The path of the array the table explodes (one row per element), if it has one. */
  explode?: PathStep[];
}

/** A valid tables file. */
export interface TablesFile {
  /** The file it was read from, for messages. */
  source: string;
  /** Where the quarantine table is: relative to the tables root, or absolute. */
  quarantine: string;
  /** Rows one record may make in one table at most. */
  maxRowsPerRecord: number;
  tables: DeclaredTable[];
}

/** The name every domain's quarantine table has (the engine's); no declared table may take it. */
const QUARANTINE = "quarantine";
/** The types a partition column may have: those whose values make sensible folder names. */
const PARTITION_TYPES = new Set(["string", "long", "integer", "boolean", "date", "timestamp", "decimal"]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NAME_RULE = "a name of letters, digits and _, not starting with a digit";

/** `key: expected …` where `key` is the dotted path of the value in the file. */
const expected = (what: string) => (issue: v.BaseIssue<unknown>) => `expected ${what}${issue.input === undefined ? ", found nothing" : `: got ${shown(issue.input)}`}`;
/** The message of a strict object's issue: its keys for an unknown or missing key, a sentence when it is not an object. */
const keysOf = (keys: string) => (issue: v.BaseIssue<unknown>) =>
  issue.expected === "Object" ? `expected a table (an object) with ${keys}: got ${shown(issue.input)}` : keys;

const location = v.pipe(
  v.string(expected("a location (a string)")),
  v.trim(),
  v.nonEmpty(expected("a location: a folder under the tables root like 'clickstream/page_views', or an s3://, s3a://, file:// URI or an absolute path")),
  v.check((s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^(s3a?|file):\/\//i.test(s), expected("a folder, or an s3://, s3a:// or file:// URI")),
  // `s3:/bucket` or `s3:bucket` is a mistyped URI, not a folder named 's3:' under the tables root.
  v.check((s) => !/^s3a?:(?!\/\/)/i.test(s), expected("an S3 URI with two slashes after the scheme, like 's3://my-bucket/page_views'")),
  v.check((s) => !/^s3a?:\/\/(\/|$)/i.test(s), expected("an S3 URI with a bucket name, like 's3://my-bucket/page_views'")),
  v.check((s) => !/^file:\/\/\/*$/i.test(s), expected("a file:// URI with a folder, like 'file:///data/page_views'")),
  v.check((s) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith("/") || !s.split("/").includes(".."), expected("a folder under the tables root, without '..'")),
);

const ColumnSchema = v.strictObject({
  path: v.string(expected("a JSON path (a string) like '$.user.id'")),
  type: v.string(expected("a type (a string) like 'string', 'long' or 'decimal(10,2)'")),
  required: v.optional(v.boolean(expected("true or false"))),
  format: v.optional(v.string(expected("a format (a string): iso8601, epoch_seconds, epoch_millis, epoch_micros or a pattern like '%Y-%m-%d %H:%M:%S'"))),
}, keysOf("path, type, required, format"));

const TableSchema = v.strictObject({
  location,
  description: v.optional(v.string(expected("a string"))),
  partition_by: v.optional(v.array(v.string(expected("a column name")), expected("a list of column names"))),
  columns: v.pipe(
    v.record(v.pipe(v.string(), v.regex(NAME, `is not a column name: expected ${NAME_RULE}`)), ColumnSchema, expected("a table of columns, each { path = ..., type = ... }")),
    v.check((c) => Object.keys(c).length > 0, expected("at least one column")),
  ),
}, keysOf("location, columns, partition_by, description"));

const FileSchema = v.strictObject({
  quarantine: v.optional(location),
  max_rows_per_record: v.optional(v.pipe(v.number(expected("a whole number")), v.integer(expected("a whole number")), v.minValue(1, expected("at least 1")))),
  tables: v.pipe(
    v.record(
      v.pipe(v.string(), v.regex(NAME, `is not a table name: expected ${NAME_RULE}`), v.check((n) => n.toLowerCase() !== QUARANTINE, `is the quarantine table's name: choose another`)),
      TableSchema,
      expected("a table of tables, e.g. [tables.page_views]"),
    ),
    v.check((t) => Object.keys(t).length > 0, expected("at least one table")),
  ),
}, keysOf("tables, quarantine, max_rows_per_record"));

/**
 * Reads and checks a tables file.
 * @throws {TablesFileError} when it cannot be read, parsed, or does not declare valid tables.
 */
export async function loadTablesFile(file: string): Promise<TablesFile> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    throw new TablesFileError(`the tables file '${file}' cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return parseTablesFile(text, file);
}

/**
 * Parses and checks a tables file's text; `file` names it in messages and its extension
 * (`.toml`, `.yaml`, `.yml`, `.json`) chooses the parser.
 * @throws {TablesFileError} naming the file, the key and what was expected.
 */
export function parseTablesFile(text: string, file: string): TablesFile {
  const where = `the tables file '${file}'`;
  const raw = parseText(text, file, where);
  const res = v.safeParse(FileSchema, raw);
  if (!res.success) {
    // A misspelt key is both unknown and missing: name the misspelling.
    const issue = res.issues.find((i) => i.type === "strict_object" && i.expected === "never") ?? res.issues[0];
    throw new TablesFileError(`${where}: ${describeIssue(issue)}`);
  }
  const out = res.output;
  const tables: DeclaredTable[] = [];
  for (const [name, t] of Object.entries(out.tables)) {
    tables.push(checkTable(name, t, (key, what) => new TablesFileError(`${where}: tables.${name}${key ? `.${key}` : ""}: ${what}`)));
  }
  return {
    source: file,
    quarantine: out.quarantine ?? QUARANTINE,
    maxRowsPerRecord: out.max_rows_per_record ?? 10_000,
    tables,
  };
}

function parseText(text: string, file: string, where: string): unknown {
  const ext = path.extname(file).toLowerCase();
  try {
    switch (ext) {
      case ".toml":
        return parseToml(text);
      case ".yaml":
      case ".yml": {
        const doc = parseDocument(text, { prettyErrors: true });
        if (doc.errors.length > 0) throw doc.errors[0];
        return doc.toJS();
      }
      case ".json":
        return JSON.parse(text);
    }
  } catch (err) {
    const what = ext === ".toml" ? "TOML" : ext === ".json" ? "JSON" : "YAML";
    const detail = err instanceof TomlError ? `line ${err.line}, column ${err.column}: ${err.message.split("\n")[0]}` : (err as Error).message.split("\n")[0]!.replace(/:$/, "");
    throw new TablesFileError(`${where} is not valid ${what} (${detail})`, { cause: err });
  }
  throw new TablesFileError(`${where} has the extension '${ext}': expected .toml, .yaml, .yml or .json (the extension chooses the parser)`);
}

type RawTable = v.InferOutput<typeof TableSchema>;

function checkTable(name: string, t: RawTable, fail: (key: string, what: string) => TablesFileError): DeclaredTable {
  const columns: DeclaredColumn[] = [];
  let explode: { steps: PathStep[]; column: string } | undefined;
  const seen = new Map<string, string>();
  for (const [col, c] of Object.entries(t.columns)) {
    const at = `columns.${col}`;
    const other = seen.get(col.toLowerCase());
    if (other !== undefined) throw fail(at, `'${col}' and '${other}' are the same name to readers, which ignore case: rename one`);
    seen.set(col.toLowerCase(), col);
    let jsonPath: JsonPath;
    let type: ColumnType;
    try {
      jsonPath = parseJsonPath(c.path.trim());
    } catch (err) {
      throw fail(`${at}.path`, (err as Error).message);
    }
    try {
      type = parseColumnType(c.type.trim());
    } catch (err) {
      throw fail(`${at}.type`, (err as Error).message);
    }
    if (c.format !== undefined) {
      if (type.kind !== "date" && type.kind !== "timestamp") throw fail(`${at}.format`, `a format is for date and timestamp columns: this column is ${typeText(type)}`);
      try {
        type = { kind: type.kind, format: parseValueFormat(c.format.trim()) };
      } catch (err) {
        throw fail(`${at}.format`, (err as Error).message);
      }
    }
    const split = splitAtEach(jsonPath.steps);
    if (split) {
      if (explode && formatJsonPath(explode.steps) !== formatJsonPath(split.array)) {
        throw fail(
          `${at}.path`,
          `'${jsonPath.text}' explodes ${formatJsonPath(split.array)}, but column ${explode.column} explodes ${formatJsonPath(explode.steps)}: a table explodes one array at most (declare another table for the other)`,
        );
      }
      explode ??= { steps: split.array, column: col };
    }
    columns.push({ name: col, path: jsonPath, type, required: c.required ?? false });
  }
  const partitionBy = t.partition_by ?? [];
  partitionBy.forEach((p, k) => {
    const c = columns.find((x) => x.name === p);
    if (!c) throw fail(`partition_by.${k}`, `'${p}' is not one of the table's columns: expected one of ${columns.map((x) => x.name).join(", ")}`);
    if (!PARTITION_TYPES.has(c.type.kind)) throw fail(`partition_by.${k}`, `'${p}' is ${typeText(c.type)}: a partition column must be a string, long, integer, boolean, date, timestamp or decimal`);
    if (partitionBy.indexOf(p) !== k) throw fail(`partition_by.${k}`, `'${p}' is there twice`);
  });
  if (partitionBy.length === columns.length) throw fail("partition_by", "every column is a partition column: a table needs one column that is not");
  return {
    name,
    location: t.location,
    ...(t.description !== undefined ? { description: t.description } : {}),
    partitionBy,
    columns,
    ...(explode ? { explode: explode.steps } : {}),
  };
}

/**
 * Where each table (and quarantine) lives: a relative location under `root` (a folder or a
 * URI), an absolute one as it is.
 * @throws {TablesFileError} when two tables share a folder or one lies inside another's.
 */
export function resolveLocations(file: TablesFile, root: string): Record<string, string> {
  const resolve = (loc: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(loc) || loc.startsWith("/") ? loc : `${root.replace(/\/+$/, "")}/${loc.replace(/^(\.\/)+/, "")}`).replace(/\/+$/, "");
  const out: Record<string, string> = {};
  for (const t of file.tables) out[t.name] = resolve(t.location);
  out[QUARANTINE] = resolve(file.quarantine);
  // s3a:// and s3:// are the same place; so are file:///x and /x.
  const key = (uri: string) => uri.replace(/^s3a:\/\//i, "s3://").replace(/^file:\/\//i, "").replace(/\/\.(?=\/|$)/g, "");
  const names = Object.keys(out);
  for (const a of names) {
    for (const b of names) {
      if (a === b) continue;
      const [ka, kb] = [key(out[a]!), key(out[b]!)];
      if (ka === kb && a < b) throw new TablesFileError(`the tables file '${file.source}': the tables ${a} and ${b} are both at ${out[a]}: each table needs a folder of its own`);
      if (ka.startsWith(`${kb}/`)) throw new TablesFileError(`the tables file '${file.source}': the table ${a} (${out[a]}) lies inside the folder of ${b} (${out[b]}): each table needs a folder of its own`);
    }
  }
  return out;
}

/** A valibot issue as `key: what was expected and found`, the key dotted from the top of the file. */
function describeIssue(issue: v.BaseIssue<unknown>): string {
  const items = (issue.path ?? []) as { origin?: string; key?: unknown }[];
  const dotted = (n: number) => items.slice(0, n).map((p) => String(p.key)).join(".") || "the top level";
  const last = items.at(-1);
  if (issue.type === "strict_object" && issue.expected === "never") {
    return `${dotted(items.length - 1)}: unknown key '${String(last?.key)}': expected one of ${issue.message}`;
  }
  if (issue.type === "strict_object" && issue.expected !== "Object") return `${dotted(items.length - 1)}: the key '${String(last?.key)}' is missing`;
  if (last?.origin === "key") return `${dotted(items.length - 1)}: '${String(last.key)}' ${issue.message}`;
  return `${dotted(items.length)}: ${issue.message}`;
}

function shown(x: unknown): string {
  let s: string;
  try {
    s = typeof x === "string" ? `'${x}'` : JSON.stringify(x) ?? String(x);
  } catch {
    s = String(x);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
