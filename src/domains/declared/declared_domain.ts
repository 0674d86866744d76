import type { TableSpec } from "../../core/delta/table.ts";
import type { UserRecord } from "../../core/kinesis/records.ts";
import { field, struct } from "../../core/schema/schema.ts";
import type { Decoded, Domain, DomainTable } from "../../engine/domain.ts";
import { deltaType } from "./column_type.ts";
import { type Converted, convertValue, describeValue } from "./column_value.ts";
import { parseExactJson } from "./exact_json.ts";
import { formatJsonPath, lookup, type PathStep, splitAtEach } from "./json_path.ts";
import type { DeclaredColumn, DeclaredTable, TablesFile } from "./tables_file.ts";

/** A record's rows, one list per declared table, in the file's order: made by `decode`, written as they are. */
export type DeclaredRows = readonly (readonly Record<string, unknown>[])[];

/** A column, ready to read: its steps from the record, or from the exploded element. */
interface ColumnPlan {
  column: DeclaredColumn;
  /** From the record (parent columns) or from the element (element columns). */
  steps: readonly PathStep[];
  onElement: boolean;
}

interface TablePlan {
  table: DeclaredTable;
  columns: ColumnPlan[];
  explode?: readonly PathStep[];
}

/** What reading one table's columns from a record gives. */
type TableRows = { ok: true; rows: Record<string, unknown>[] } | { ok: false; reason: string } | { ok: "needs-text" };

const NEEDS_TEXT: TableRows = { ok: "needs-text" };
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The declared domain: any JSON stream into the tables a tables file declares
 * (`tables_file.ts`). It has no prepare step.
 *
 * Each record is read for every table in `decode`, and every value converted and checked
 * there (`column_value.ts`), so `rows` only hands out rows that can be written. A record
 * that does not fit one table (not JSON, a required value missing, a value that does not
 * fit its column, an array to explode that is not one, too many rows) goes to quarantine
 * whole, and no table gets a row from it: a record is in the tables or in quarantine,
 * never half in each, so replaying a fixed record cannot duplicate rows. The reason names
 * every table that refused it, the column, the path in the record, the value and what was
 * expected.
 */
export function declaredDomain(file: TablesFile): Domain<DeclaredRows, undefined> {
  const plans = file.tables.map(plan);
  const max = file.maxRowsPerRecord;
  const tables: DomainTable<DeclaredRows, undefined>[] = file.tables.map((t, k) => ({
    name: t.name,
    spec: tableSpec(t),
    rows(batch) {
      const out: Record<string, unknown>[] = [];
      for (const part of batch.parts) for (const v of part.values) for (const r of v[k]!) out.push(r);
      return out;
    },
  }));
  return {
    name: `declared (${file.source})`,
    decode(record: UserRecord): Decoded<DeclaredRows> {
      if (record.data.length === 0) return { ok: false, reason: "empty record: expected a JSON object" };
      let text: string;
      try {
        text = decoder.decode(record.data);
      } catch {
        return { ok: false, reason: "not UTF-8: expected a JSON object in UTF-8" };
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        return { ok: false, reason: `not JSON (${(err as Error).message}): expected a JSON object` };
      }
      if (typeof json !== "object" || json === null || Array.isArray(json)) {
        return { ok: false, reason: `expected a JSON object, got ${Array.isArray(json) ? "an array" : json === null ? "null" : `${typeof json} ${describeValue(json)}`}` };
      }
      let read = readAll(plans, json, false, max);
      // A long beyond 2^53, a decimal number or a number that is not finite: read the record
      // again with each number's text, and judge every table on that reading.
      if (read === "needs-text") read = readAll(plans, parseExactJson(text), true, max);
      if (read === "needs-text") return { ok: false, reason: "a number's text could not be read back from the record" };
      if (!Array.isArray(read)) return { ok: false, reason: read.reason };
      return { ok: true, value: read };
    },
    tables,
  };
}

/** The Delta table a declared table is created as: its columns in order, every one nullable. */
export function tableSpec(t: DeclaredTable): TableSpec {
  return {
    name: t.name,
    schema: struct(...t.columns.map((c) => field(c.name, deltaType(c.type), true))),
    partitionColumns: t.partitionBy,
    ...(t.description !== undefined ? { description: t.description } : {}),
  };
}

function plan(table: DeclaredTable): TablePlan {
  const columns = table.columns.map((column): ColumnPlan => {
    const split = splitAtEach(column.path.steps);
    return split ? { column, steps: split.element, onElement: true } : { column, steps: column.path.steps, onElement: false };
  });
  return { table, columns, ...(table.explode ? { explode: table.explode } : {}) };
}

/** Every table's rows of a record, or the reasons (one per table that refused it). */
function readAll(plans: readonly TablePlan[], json: unknown, exact: boolean, max: number): Record<string, unknown>[][] | { reason: string } | "needs-text" {
  const out: Record<string, unknown>[][] = [];
  const reasons: string[] = [];
  for (const p of plans) {
    const r = readTable(p, json, exact, max);
    if (r.ok === "needs-text") return "needs-text";
    if (r.ok) out.push(r.rows);
    else reasons.push(r.reason);
  }
  return reasons.length > 0 ? { reason: reasons.join("; ") } : out;
}

function readTable(p: TablePlan, json: unknown, exact: boolean, max: number): TableRows {
  const name = p.table.name;
  const parent: [string, unknown][] = [];
  for (const c of p.columns) {
    if (c.onElement) continue;
    const v = readColumn(name, c, json, [], exact);
    if (v.ok !== true) return v.ok === "needs-text" ? NEEDS_TEXT : { ok: false, reason: v.reason };
    parent.push([c.column.name, v.value]);
  }
  if (!p.explode) return { ok: true, rows: [Object.fromEntries(parent)] };
  const found = lookup(json, p.explode);
  const arrayPath = formatJsonPath(p.explode);
  if (!found.ok) return { ok: false, reason: `${name} explodes ${arrayPath}: expected ${found.expected} at ${found.at}, got ${describeValue(found.got)}` };
  // No array (absent or null) makes no rows, as an empty one does (Spark's explode).
  if (found.value === undefined) return { ok: true, rows: [] };
  if (!Array.isArray(found.value)) return { ok: false, reason: `${name} explodes ${arrayPath}: expected an array, got ${describeValue(found.value)}` };
  const elements = found.value as unknown[];
  if (elements.length > max) {
    return { ok: false, reason: `${name} explodes ${arrayPath}: the array has ${elements.length} elements, so the record would make ${elements.length} rows: at most ${max} are allowed (max_rows_per_record)` };
  }
  const rows: Record<string, unknown>[] = [];
  for (let k = 0; k < elements.length; k++) {
    const base: PathStep[] = [...p.explode, { kind: "index", index: k }];
    const entries: [string, unknown][] = [];
    let pi = 0;
    for (const c of p.columns) {
      if (!c.onElement) {
        entries.push(parent[pi++]!);
        continue;
      }
      const v = readColumn(name, c, elements[k], base, exact);
      if (v.ok !== true) return v.ok === "needs-text" ? NEEDS_TEXT : { ok: false, reason: v.reason };
      entries.push([c.column.name, v.value]);
    }
    rows.push(Object.fromEntries(entries));
  }
  return { ok: true, rows };
}

type ColumnRead = { ok: true; value: unknown } | { ok: false; reason: string } | { ok: "needs-text" };

/** One column's value from `from` (the record, or an element whose path is `base`). */
function readColumn(table: string, c: ColumnPlan, from: unknown, base: readonly PathStep[], exact: boolean): ColumnRead {
  const col = c.column;
  const where = (extra: readonly PathStep[] = []) => `${table}.${col.name} (${formatJsonPath([...base, ...c.steps, ...extra])})`;
  const found = lookup(from, c.steps, base);
  if (!found.ok) return { ok: false, reason: `${where()}: expected ${found.expected} at ${found.at}, got ${describeValue(found.got)}` };
  if (found.value === undefined) {
    return col.required ? { ok: false, reason: `${where()}: required, but the record has no value there` } : { ok: true, value: null };
  }
  const v: Converted = convertValue(found.value, col.type, exact);
  if (v.ok === true) return v;
  if (v.ok === "needs-text") return v;
  return { ok: false, reason: `${where(v.at)}: expected ${v.expected}, got ${describeValue(v.got)}` };
}
