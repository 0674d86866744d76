/**
 * Deterministic order-item-shaped rows (12 columns) for the writer benchmark; the same
 * formula is in `delta_rs_writer.py` so both writers get identical rows.
 */
import { field, struct } from "../../src/core/schema/schema.ts";

export const ORDER_ITEMS_SCHEMA = struct(
  field("inventory_id", "string"), field("order_id", "string"), field("product_id", "string"),
  field("product_name", "string"), field("order_price", "double"), field("package_id", "string"),
  field("subpackage_id", "integer"), field("items_quantity", "integer"), field("items_weight", "double"),
  field("items_volume", "double"), field("order_timestamp", "timestamp"), field("status", "string"),
);

const BASE_US = 1_735_689_600_000_000n; // 2025-01-01T00:00:00Z

export function orderItemRows(start: number, count: number): Record<string, unknown>[] {
  const rows = new Array<Record<string, unknown>>(count);
  for (let k = 0; k < count; k++) {
    const i = start + k;
    const q = (i % 7) + 1;
    rows[k] = {
      inventory_id: `inv-${i.toString(16).padStart(12, "0")}`,
      order_id: `ord-${Math.floor(i / 3).toString(16).padStart(12, "0")}`,
      product_id: `prod-${i % 500}`,
      product_name: `Product number ${i % 500}`,
      order_price: (i % 1000) / 10 + 1,
      package_id: `pkg-${i % 200}`,
      subpackage_id: i % 4,
      items_quantity: q,
      items_weight: i % 11 === 0 ? null : q * ((i % 50) / 4 + 0.5),
      items_volume: q * ((i % 30) + 1),
      order_timestamp: BASE_US + BigInt(i) * 1_000_000n,
      status: i % 3 === 0 ? "PROCESSING" : "PENDING",
    };
  }
  return rows;
}
