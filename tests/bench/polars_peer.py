"""The peer of `make bench-peer`: the order job as a team could write it with Polars and
deltalake (delta-rs), on one thread. Reads the orders (one JSON per line) in micro-batches
of 10,000 and keeps the same five tables: events, orders, orders_items (statuses from the
MERGE's decision), quarantine (empty: the bench's orders are valid) and package_table,
whose stock a delta-rs MERGE takes per batch where it suffices.

    polars_peer.py ORDERS.jsonl ROOT BATCH

Prints one JSON line: seconds, cpu_seconds, peak_rss_mib. Run it with POLARS_MAX_THREADS=1
and RAYON_NUM_THREADS=1 (and pinned with taskset) for one core."""
import hashlib, json, resource, sys, time
from datetime import datetime, timezone
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

src, root, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])

PKG = pl.Struct({"package_id": pl.String, "subpackage_id": pl.Int32, "quantity": pl.Int64, "weight": pl.Float64, "volume": pl.Float64})
ITEM = pl.Struct({"product_id": pl.String, "product_name": pl.String, "price": pl.Float64, "quantity": pl.Int64, "packages": pl.List(PKG)})
SCHEMA = {
    "event_id": pl.String, "event_type": pl.String, "event_timestamp": pl.String, "order_id": pl.String,
    "order_details": pl.Struct({
        "customer_id": pl.String, "order_timestamp": pl.String, "items": pl.List(ITEM),
        "total_amount": pl.Float64, "total_volume": pl.Float64, "total_weight": pl.Float64, "status": pl.String,
        "destination_address": pl.Struct({"lat": pl.Float64, "lon": pl.Float64}),
    }),
}
TS = pl.Datetime("us", "UTC")


def ts(col):
    return pl.col(col).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S").dt.replace_time_zone("UTC")


def stable_uuid(name):
    """The subscriber's ids.ts: a name-based UUID (version 5 layout) of SHA-1(name)."""
    h = hashlib.sha1(name.encode()).hexdigest()
    variant = "%x" % ((int(h[16], 16) & 0x3) | 0x8)
    return f"{h[0:8]}-{h[8:12]}-5{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


def micro_batch(lines):
    df = pl.read_ndjson(b"".join(lines), schema=SCHEMA)
    now = datetime.now(timezone.utc)
    d = pl.col("order_details")
    orders = df.select(
        "order_id", d.struct.field("customer_id"), d.struct.field("total_weight"), d.struct.field("total_volume"),
        d.struct.field("total_amount").alias("total_price"),
        d.struct.field("order_timestamp").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S").dt.replace_time_zone("UTC").alias("order_timestamp"),
        d.struct.field("status"), d.struct.field("destination_address").struct.field("lat"), d.struct.field("destination_address").struct.field("lon"),
    )
    items = (
        df.select("order_id", d.struct.field("items").alias("item"), orders["order_timestamp"])
        .with_columns(i=pl.int_ranges(0, pl.col("item").list.len())).explode(["item", "i"])
        .filter(pl.col("item").is_not_null()).unnest("item")
        .rename({"quantity": "item_quantity"})
        .with_columns(j=pl.int_ranges(0, pl.col("packages").list.len())).explode(["packages", "j"])
        .filter(pl.col("packages").is_not_null()).unnest("packages")
        .with_columns(q=(pl.col("item_quantity") * pl.col("quantity")))
        .select(
            pl.format("inv-{}-{}-{}", pl.col("order_id").str.strip_prefix("ord-"), "i", "j").alias("inventory_id"),
            "order_id", "product_id", "product_name", pl.col("price").alias("order_price"), "package_id", "subpackage_id",
            pl.col("q").cast(pl.Int32).alias("items_quantity"), (pl.col("q") * pl.col("weight")).alias("items_weight"),
            (pl.col("q") * pl.col("volume")).alias("items_volume"), "order_timestamp",
        )
    )
    # The MERGE: per group, take the batch's demand where the stock suffices.
    demand = items.group_by("package_id", "subpackage_id").agg(pl.col("items_quantity").sum().cast(pl.Int32)).drop_nulls()
    pkg = DeltaTable(f"{root}/package_table")
    stock = pl.from_arrow(pkg.to_pyarrow_table(columns=["package_id", "subpackage_id", "stock_quantity"]))
    reserved = demand.join(stock, on=["package_id", "subpackage_id"]).filter(pl.col("stock_quantity") >= pl.col("items_quantity")).select("package_id", "subpackage_id")
    (pkg.merge(source=demand.to_arrow(), predicate="t.package_id = s.package_id AND t.subpackage_id = s.subpackage_id", source_alias="s", target_alias="t")
        .when_matched_update(updates={"stock_quantity": "t.stock_quantity - s.items_quantity"}, predicate="t.stock_quantity >= s.items_quantity")
        .execute())
    items = items.join(reserved.with_columns(r=pl.lit(True)), on=["package_id", "subpackage_id"], how="left", maintain_order="left").with_columns(
        status=pl.when(pl.col("r")).then(pl.lit("PROCESSING")).otherwise(pl.lit("PENDING"))).drop("r")
    full = items.group_by("order_id").agg((pl.col("status") == "PROCESSING").all().alias("full")).filter("full").select("order_id")
    orders = orders.join(full.with_columns(f=pl.lit(True)), on="order_id", how="left", maintain_order="left").with_columns(
        status=pl.when(pl.col("f")).then(pl.lit("PROCESSING")).otherwise(pl.col("status"))).drop("f")
    events = df.select("event_id", "event_type", ts("event_timestamp").alias("event_timestamp"), "order_id")
    inventory = full.select(
        pl.col("order_id").map_elements(lambda o: "ev-" + stable_uuid(o + "/INVENTORY_UPDATED"), return_dtype=pl.String).alias("event_id"),
        pl.lit("INVENTORY_UPDATED").alias("event_type"), pl.lit(now).cast(TS).alias("event_timestamp"), "order_id")
    write_deltalake(f"{root}/events", pl.concat([events, inventory]).to_arrow(), mode="append")
    write_deltalake(f"{root}/orders", orders.to_arrow(), mode="append")
    write_deltalake(f"{root}/orders_items", items.to_arrow(), mode="append")


def main():
    t0, c0 = time.perf_counter(), time.process_time()
    with open(src, "rb") as f:
        lines = []
        for line in f:
            lines.append(line)
            if len(lines) == batch_size:
                micro_batch(lines)
                lines = []
        if lines:
            micro_batch(lines)
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


main()
