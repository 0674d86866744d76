import { field, struct } from "../../core/schema/schema.ts";
import type { TableSpec } from "../../core/delta/table.ts";

/**
 * The gold package_table: the inventory, loaded beforehand (`tables init-packages`);
 * each batch decrements the stock of the package groups its orders need (see
 * `domain/reservation.ts`), as one copy-on-write MERGE commit.
 */
export const PACKAGE_TABLE: { name: string; spec: TableSpec } = {
  name: "package_table",
  spec: {
    schema: struct(
      field("package_id", "string"), field("subpackage_id", "integer"), field("name", "string"),
      field("width", "integer"), field("height", "integer"), field("length", "integer"),
      field("weight", "float"), field("volume", "integer"), field("stock_quantity", "integer", false),
    ),
  },
};
