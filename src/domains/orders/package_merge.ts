import type { Add } from "../../core/delta/actions.ts";
import { deletionVectorId, descriptorOf } from "../../core/delta/deletion_vector.ts";
import { TableError } from "../../core/delta/errors.ts";
import { APPEND_ONLY } from "../../core/delta/table_properties.ts";
import { type DeltaTable, materializedRowTracking } from "../../core/delta/table.ts";
import { typeText } from "../../core/schema/schema_adoption.ts";
import type { PrepareStep, PreparedChange } from "../../engine/domain.ts";
import { LINE_STRIDE, type Order, type Reserved } from "./order.ts";
import { demandOf, type PackageRow, reserveStock } from "./reservation.ts";

/**
 * The package_table MERGE as the order domain's prepare step: per batch, the demand of its
 * order lines per package group is taken from stock where it suffices (see
 * `reservation.ts`), as one copy-on-write commit that rewrites only the files holding a
 * changed row. The reserved groups are recorded in the commit's
 * `operationParameters.reserved`, so a replay gives the order items the statuses that
 * match the stock actually taken.
 */
export class PackageMerge implements PrepareStep<Order, Reserved> {
  readonly table = "package_table";
  readonly empty: Reserved = new Set<string>();
  /** Rows per live data file, so a batch reads only files it has not seen. */
  readonly #rows = new Map<string, PackageRow[]>();

  /** The data files whose rows the cache holds now (what memory checks compare with the table's live files). */
  cachedFiles(): string[] {
    // Keys are `<path>#<deletion vector id>`; a path in an action has no raw '#' (URI-encoded).
    return [...this.#rows.keys()].map((k) => k.slice(0, k.indexOf("#")));
  }

  missingTable(url: string): string {
    return `package_table does not exist at ${url}: it holds the stock the orders take, so it must be ` +
      `loaded first (data-subscriber tables init-packages --from packages.json)`;
  }

  /**
   * The MERGE reads and writes only `package_id` (string), `subpackage_id` and
   * `stock_quantity` (integer types: byte, short, integer or long); every other column the
   * table has (the landing job's `name`, `width`, … of any type) is read and written back
   * unchanged.
   * @throws {TableError} naming each of the three that is missing or of another type.
   */
  checkTable(table: DeltaTable): void {
    const fields = new Map(table.snapshot.schema.fields.map((f) => [f.name.toLowerCase(), f]));
    const problems: string[] = [];
    for (const [name, types] of MERGE_COLUMNS) {
      const f = fields.get(name);
      if (!f) problems.push(`  - ${name}: missing, expected ${types.join(" or ")}`);
      else if (f.name !== name) problems.push(`  - ${name}: found as '${f.name}', expected the name '${name}'`);
      else if (typeof f.type !== "string" || !types.includes(f.type)) problems.push(`  - ${name}: found ${typeText(f.type, f.nullable)}, expected ${types.join(" or ")}`);
    }
    if ((table.snapshot.protocol?.writerFeatures ?? []).includes("rowTracking") && !materializedRowTracking(table.snapshot)) {
      problems.push(`  - the table tracks row ids (the rowTracking feature) but names no materialized row id columns: the MERGE's rewrite could not keep them`);
    }
    if (table.snapshot.property(APPEND_ONLY)) {
      problems.push(`  - the table is append-only ('${APPEND_ONLY.key}' is true): the MERGE rewrites the files whose stock changes, which removes them; set it to false (ALTER TABLE … SET TBLPROPERTIES ('delta.appendOnly' = 'false')) or use another table`);
    }
    if (problems.length > 0) {
      throw new TableError(
        `The package_table at ${table.store.url} cannot take the stock MERGE, which reads and writes package_id, subpackage_id and stock_quantity ` +
          `(its other columns are kept as they are):\n${problems.join("\n")}\n` +
          `Load the inventory into a table with these columns (data-subscriber tables init-packages, or the landing job), or point PACKAGE_TABLE at one.`,
      );
    }
  }

  async decide(values: readonly Order[], table: DeltaTable): Promise<PreparedChange<Reserved>> {
    const demand = demandOf(values);
    const files = [...table.snapshot.files.values()];
    // Forget files the table no longer holds (replaced by this or another writer).
    const live = new Set(files.map(fileKey));
    for (const key of this.#rows.keys()) if (!live.has(key)) this.#rows.delete(key);
    const byFile = await Promise.all(files.map(async (f) => ({ file: f, rows: await this.#rowsOf(table, f) })));
    const res = reserveStock(byFile.flatMap((f) => f.rows), demand);
    // Rewrite only the files holding a changed row.
    let k = 0;
    const replaced: Add[] = [];
    const rows: PackageRow[] = [];
    for (const f of byFile) {
      const after = res.rows.slice(k, k + f.rows.length);
      k += f.rows.length;
      if (after.some((r, i) => r !== f.rows[i])) {
        replaced.push(f.file);
        rows.push(...after);
      }
    }
    return {
      decision: res.reserved,
      replaced,
      rows,
      operation: "MERGE",
      operationParameters: {
        predicate: "target.package_id = source.package_id AND target.subpackage_id = source.subpackage_id",
        matchedPredicates: JSON.stringify([{ actionType: "update", predicate: "target.stock_quantity >= source.items_quantity" }]),
        notMatchedPredicates: "[]",
        reserved: JSON.stringify([...res.reserved]),
      },
      operationMetrics: {
        numSourceRows: String(values.reduce((n, o) => n + o.lines.length / LINE_STRIDE, 0)),
        numTargetRowsUpdated: String(res.changed),
        numTargetRowsCopied: String(rows.length - res.changed),
        numTargetFilesRemoved: String(replaced.length),
        numTargetFilesAdded: String(rows.length > 0 ? 1 : 0),
        numStockUnitsTaken: String(res.units),
      },
    };
  }

  readBack(operationParameters: Record<string, string>): Reserved {
    const reserved = operationParameters.reserved;
    if (reserved === undefined) {
      throw new Error(
        "package_table's commit of this batch records no reservation (operationParameters.reserved); " +
          "cannot give the replayed order items the statuses they were given",
      );
    }
    return new Set(JSON.parse(reserved) as string[]);
  }

  async #rowsOf(table: DeltaTable, file: Add): Promise<PackageRow[]> {
    let rows = this.#rows.get(fileKey(file));
    if (!rows) {
      // Timestamps as exact µs and every other value as read: the rows are written back as they are.
      rows = (await table.readRows([file], { timestamps: "micros" })).map(asPackageRow);
      this.#rows.set(fileKey(file), rows);
    }
    return rows;
  }
}

/** A live file as the cache knows it: its path and its deletion vector (another engine's DELETE gives it a new one). */
function fileKey(file: Add): string {
  return `${file.path}#${deletionVectorId(descriptorOf(file.deletionVector))}`;
}

/** The columns the MERGE uses and the types it takes for each. */
const MERGE_COLUMNS: [string, string[]][] = [
  ["package_id", ["string"]],
  ["subpackage_id", ["integer", "short", "byte", "long"]],
  ["stock_quantity", ["integer", "short", "byte", "long"]],
];

/**
 * A row as read, with a `long` subpackage_id or stock_quantity (a bigint) as a number, the
 * form the reservation computes with (a long column takes it back as it is); a value beyond
 * 2^53 cannot be counted exactly and stops the batch.
 */
function asPackageRow(row: Record<string, unknown>): PackageRow {
  for (const name of ["subpackage_id", "stock_quantity"]) {
    const v = row[name];
    if (typeof v !== "bigint") continue;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new TableError(`package_table: ${name} ${v} of package ${String(row.package_id)} is beyond 2^53 and cannot be counted exactly`);
    }
    row[name] = Number(v);
  }
  return row as PackageRow;
}
