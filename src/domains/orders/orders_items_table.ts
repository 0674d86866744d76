import { DoubleColumn, IntColumn, StringColumn, TimestampColumn, finishBatch } from "../../core/arrow/column_builders.ts";
import { field, struct } from "../../core/schema/schema.ts";
import type { DomainTable } from "../../engine/domain.ts";
import type { Order, Reserved } from "./order.ts";
import { forEachLine, groupLookup, inGroups, inventoryBase, itemsQuantity } from "./order_lines.ts";

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
    const n = batch.parts.reduce((k, p) => k + p.values.reduce((m, o) => m + o.lines, 0), 0);
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
        if (o.lines === 0) continue;
        const id = o.event.order_id;
        const base = inventoryBase(id);
        forEachLine(o.event, (item, p, i, j) => {
          const q = itemsQuantity(item, p);
          inventoryId.push(`${base}-${i}-${j}`);
          orderId.push(id);
          productId.push(item.product_id);
          productName.push(item.product_name);
          price.push(item.price);
          packageId.push(p.package_id);
          subpackageId.push(p.subpackage_id);
          quantity.push(q);
          weight.push(q != null && p.weight != null ? q * p.weight : null);
          volume.push(q != null && p.volume != null ? q * p.volume : null);
          orderTs.push(o.orderTs);
          status.push(inGroups(reserved, p) ? "PROCESSING" : "PENDING");
        });
      }
    }
    return finishBatch(SCHEMA, [inventoryId, orderId, productId, productName, price, packageId, subpackageId, quantity, weight, volume, orderTs, status]);
  },
};
