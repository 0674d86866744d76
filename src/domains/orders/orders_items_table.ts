import { DoubleColumn, IntColumn, StringColumn, TimestampColumn, finishBatch } from "../../core/arrow/column_builders.ts";
import { field, struct } from "../../core/schema/schema.ts";
import type { DomainTable } from "../../engine/domain.ts";
import { L_ITEM, L_PACKAGE, L_PACKAGE_ID, L_PRICE, L_PRODUCT_ID, L_PRODUCT_NAME, L_QUANTITY, L_SUBPACKAGE_ID, L_VOLUME, L_WEIGHT, LINE_STRIDE, type Order, type Reserved } from "./order.ts";
import { groupLookup, inGroups, inventoryBase } from "./order_lines.ts";

const SCHEMA = struct(
  field("inventory_id", "string"), field("order_id", "string"), field("product_id", "string"),
  field("product_name", "string"), field("order_price", "double"), field("package_id", "string"),
  field("subpackage_id", "integer"), field("items_quantity", "integer"), field("items_weight", "double"),
  field("items_volume", "double"), field("order_timestamp", "timestamp"), field("status", "string"),
);

/** The bronze orders_items table: item × package lines; `PROCESSING` when their package group was reserved, else `PENDING`. */
export const ordersItemsTable: DomainTable<Order, Reserved> = {
  name: "orders_items",
  spec: { schema: SCHEMA },
  columns(batch) {
    const n = batch.parts.reduce((k, p) => k + p.values.reduce((m, o) => m + o.lines.length / LINE_STRIDE, 0), 0);
    const inventoryId = new StringColumn(n, 48);
    const orderId = new StringColumn(n, 40);
    const productId = new StringColumn(n, 12);
    const productName = new StringColumn(n, 24);
    const price = new DoubleColumn(n);
    const packageId = new StringColumn(n, 8);
    const subpackageId = new IntColumn(n);
    const quantity = new IntColumn(n);
    const weight = new DoubleColumn(n);
    const volume = new DoubleColumn(n);
    const orderTs = new TimestampColumn(n);
    const status = new StringColumn(n, 10);
    for (const part of batch.parts) {
      const reserved = groupLookup(part.decision);
      for (const o of part.values) {
        const lines = o.lines;
        if (lines.length === 0) continue;
        const base = inventoryBase(o.orderId);
        for (let l = 0; l < lines.length; l += LINE_STRIDE) {
          const packageIdValue = lines[l + L_PACKAGE_ID] as string | null;
          const subpackageIdValue = lines[l + L_SUBPACKAGE_ID] as number | null;
          inventoryId.push(`${base}-${lines[l + L_ITEM]}-${lines[l + L_PACKAGE]}`);
          orderId.push(o.orderId);
          productId.push(lines[l + L_PRODUCT_ID] as string | null);
          productName.push(lines[l + L_PRODUCT_NAME] as string | null);
          price.push(lines[l + L_PRICE] as number | null);
          packageId.push(packageIdValue);
          subpackageId.push(subpackageIdValue);
          quantity.push(lines[l + L_QUANTITY] as number | null);
          weight.push(lines[l + L_WEIGHT] as number | null);
          volume.push(lines[l + L_VOLUME] as number | null);
          orderTs.push(o.orderTs);
          status.push(inGroups(reserved, packageIdValue, subpackageIdValue) ? "PROCESSING" : "PENDING");
        }
      }
    }
    return finishBatch(SCHEMA, [inventoryId, orderId, productId, productName, price, packageId, subpackageId, quantity, weight, volume, orderTs, status]);
  },
};
