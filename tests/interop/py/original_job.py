"""The tables the original PySpark jobs left behind, made the way those jobs made them,
for the migration tests (a user moving from them points data-subscriber at these tables).

Facts taken from the public code of the jobs (mgranica/VPR-data_subscriber and
mgranica/VPR-data_landing), re-expressed here, not copied:

- The subscriber read the order events with one schema in which every field is nullable
  and every timestamp is a *string* (`event_timestamp`, `order_details.order_timestamp`,
  the publisher's `%Y-%m-%d %H:%M:%S`); it wrote events, orders and orders_items with
  Structured Streaming, `writeStream.format("delta").outputMode("append")`, one query per
  table with its own checkpoint (so every micro-batch is a `STREAMING UPDATE` commit with
  a `txn` of the query's id). orders_items: `inventory_id` = "inv-" + uuid(),
  `items_quantity` = item quantity × package quantity (int × int: an int), `items_weight`
  and `items_volume` doubles, `status` the literal "PENDING".
- Its package stream ran, per micro-batch of order items (foreachBatch), a MERGE into
  package_table: sum of items_quantity per (package_id, subpackage_id) over the PENDING
  lines; where `stock_quantity >= sum`, `stock_quantity - sum`.
- The landing job wrote package_table with `write.format("delta").mode("overwrite")` from
  its silver products, whose dimensions its latest schema reads as floats: (package_id
  string, subpackage_id int, name string, width, height, length, weight, volume float,
  stock_quantity int = a literal 1000). Delta stores every column as nullable, the literal's
  NOT NULL included.

Request: {"op":"original_job","root":R,"orders":[order documents],"packages":[{package_id,
subpackage_id,name,width,height,length,weight,volume}],"batches":N}
  -> {"ok":true,"versions":{table: version}}
Tables under R as the original laid them out: orders/delta/bronze/{events,orders,
orders_items}, orders/gold/package_table; the streaming checkpoints under
orders/delta/checkpoints/.
"""
from __future__ import annotations

import json
import os

import spark_reader
from worker_common import local_abs


def order_schema():
    """The subscriber's schema of an order event (src/schemas.py): all nullable, timestamps as strings."""
    import pyspark.sql.types as t

    S, D, I = t.StringType(), t.DoubleType(), t.IntegerType()

    def st(*fields):
        return t.StructType([t.StructField(n, ty, True) for n, ty in fields])

    package = st(("package_id", S), ("subpackage_id", I), ("quantity", I), ("weight", D), ("volume", D))
    item = st(("product_id", S), ("product_name", S), ("price", D), ("quantity", I), ("packages", t.ArrayType(package)))
    address = st(
        ("address_id", S), ("neighborhood", S), ("coordinates", t.ArrayType(D)), ("road", S), ("house_number", S), ("suburb", S),
        ("city_district", S), ("state", S), ("postcode", S), ("country", S), ("lat", D), ("lon", D),
    )
    payment = st(("payment_method", S), ("payment_status", S), ("transaction_id", S))
    details = st(
        ("customer_id", S), ("order_timestamp", S), ("order_date", S), ("items", t.ArrayType(item)), ("total_amount", D),
        ("total_volume", D), ("total_weight", D), ("status", S), ("destination_address", address), ("payment_details", payment),
    )
    return st(("event_id", S), ("event_type", S), ("event_timestamp", S), ("order_id", S), ("order_details", details))


def landing_package_table(s, packages: list, path: str, stock: int = 1000) -> None:
    """The landing job's gold step: silver products → one row per (package_id, subpackage_id), overwritten."""
    import pyspark.sql.functions as f
    import pyspark.sql.types as t

    F, I, S = t.FloatType(), t.IntegerType(), t.StringType()
    silver = t.StructType([
        t.StructField("product_id", S, False), t.StructField("name", S, True), t.StructField("width", F, True),
        t.StructField("height", F, True), t.StructField("length", F, True), t.StructField("weight", F, True),
        t.StructField("volume", F, True),
        t.StructField("product_components", t.StructType([
            t.StructField("package_id", S, True), t.StructField("subpackage_id", I, True), t.StructField("package_quantity", I, True),
        ]), False),
    ])
    rows = [
        (f"prod-{k}", p["name"], float(p["width"]), float(p["height"]), float(p["length"]), float(p["weight"]), float(p["volume"]),
         (p["package_id"], int(p["subpackage_id"]), 1))
        for k, p in enumerate(packages)
    ]
    df = (
        s.createDataFrame(rows, silver)
        .withColumn("stock_quantity", f.lit(stock))
        .withColumn("package_id", f.col("product_components.package_id"))
        .withColumn("subpackage_id", f.col("product_components.subpackage_id"))
        .dropDuplicates(["package_id", "subpackage_id"])
        .orderBy("package_id")
        .select("package_id", "subpackage_id", "name", "width", "height", "length", "weight", "volume", "stock_quantity")
    )
    df.write.format("delta").mode("overwrite").save(path)


def write(req: dict) -> dict:
    import pyspark.sql.functions as f
    from delta.tables import DeltaTable

    s = spark_reader.session()
    root = local_abs(req["root"])
    bronze = os.path.join(root, "orders", "delta", "bronze")
    checkpoints = os.path.join(root, "orders", "delta", "checkpoints")
    paths = {
        "events": os.path.join(bronze, "events"),
        "orders": os.path.join(bronze, "orders"),
        "orders_items": os.path.join(bronze, "orders_items"),
        "package_table": os.path.join(root, "orders", "gold", "package_table"),
    }
    # The landing job ran first (on a schedule: twice here, so its log has an overwrite's removes).
    landing_package_table(s, req["packages"], paths["package_table"], stock=900)
    landing_package_table(s, req["packages"], paths["package_table"])

    # The orders as the stream delivered them, one file per micro-batch.
    source = os.path.join(root, "_original_source")
    os.makedirs(source, exist_ok=True)
    orders = req["orders"]
    batches = max(1, int(req.get("batches", 2)))
    size = (len(orders) + batches - 1) // batches
    for b in range(batches):
        with open(os.path.join(source, f"batch-{b:03d}.json"), "w", encoding="utf-8") as out:
            for o in orders[b * size:(b + 1) * size]:
                out.write(json.dumps(o) + "\n")

    def stream():
        return s.readStream.schema(order_schema()).option("maxFilesPerTrigger", 1).json(source)

    def append(df, table: str):
        return (
            df.writeStream.format("delta").outputMode("append").trigger(availableNow=True)
            .option("checkpointLocation", os.path.join(checkpoints, table)).start(paths[table])
        )

    orders_df = stream()
    items = (
        orders_df
        .withColumn("item", f.explode(f.col("order_details.items")))
        .withColumn("package", f.explode(f.col("item.packages")))
        .withColumn("inventory_id", f.concat(f.lit("inv-"), f.expr("uuid()")))
        .withColumn("items_quantity", f.col("item.quantity") * f.col("package.quantity"))
        .withColumn("items_weight", f.col("items_quantity") * f.col("package.weight"))
        .withColumn("items_volume", f.col("items_quantity") * f.col("package.volume"))
        .withColumn("status", f.lit("PENDING"))
        .select(
            "inventory_id", "order_id", f.col("item.product_id").alias("product_id"), f.col("item.product_name").alias("product_name"),
            f.col("item.price").alias("order_price"), f.col("package.package_id").alias("package_id"),
            f.col("package.subpackage_id").alias("subpackage_id"), "items_quantity", "items_weight", "items_volume",
            f.col("order_details.order_timestamp").alias("order_timestamp"), "status",
        )
    )
    queries = [
        append(orders_df.select("event_id", "event_type", "event_timestamp", "order_id"), "events"),
        append(orders_df.select(
            "order_id", f.col("order_details.customer_id").alias("customer_id"), f.col("order_details.total_weight").alias("total_weight"),
            f.col("order_details.total_volume").alias("total_volume"), f.col("order_details.total_amount").alias("total_price"),
            f.col("order_details.order_timestamp").alias("order_timestamp"), f.col("order_details.status").alias("status"),
            f.col("order_details.destination_address.lat").alias("lat"), f.col("order_details.destination_address.lon").alias("lon"),
        ), "orders"),
        append(items, "orders_items"),
    ]

    def take_stock(batch, _batch_id):
        demand = batch.filter(f.col("status") == f.lit("PENDING")).groupBy("package_id", "subpackage_id").agg(f.sum("items_quantity").alias("items_quantity"))
        (
            DeltaTable.forPath(s, paths["package_table"]).alias("t")
            .merge(demand.alias("s"), "s.package_id = t.package_id AND s.subpackage_id = t.subpackage_id")
            .whenMatchedUpdate(condition="t.stock_quantity >= s.items_quantity", set={"stock_quantity": "t.stock_quantity - s.items_quantity"})
            .execute()
        )

    queries.append(
        items.select("package_id", "subpackage_id", "items_quantity", "status").writeStream.outputMode("update")
        .foreachBatch(take_stock).trigger(availableNow=True).option("checkpointLocation", os.path.join(checkpoints, "package_update")).start()
    )
    for q in queries:
        q.awaitTermination()
    versions = {name: s.sql(f"DESCRIBE HISTORY {spark_reader.sql_path(p)} LIMIT 1").collect()[0]["version"] for name, p in paths.items()}
    return {"ok": True, "versions": versions}
