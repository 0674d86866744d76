"""`make bench-peer`'s check: the subscriber's tables and the Polars peer's, read with
delta-rs, hold the same rows (INVENTORY_UPDATED events without their batch-time timestamp)
and the same final stock. Prints one JSON line; exits 1 when they differ.

    compare_peer.py OURS_ROOT PEER_ROOT"""
import json, sys
import polars as pl
from deltalake import DeltaTable

ours, peer = sys.argv[1], sys.argv[2]
KEYS = {"events": ["event_id"], "orders": ["order_id"], "orders_items": ["inventory_id"], "package_table": ["package_id", "subpackage_id"]}


def read(root, name):
    df = pl.from_arrow(DeltaTable(f"{root}/{name}").to_pyarrow_table())
    if name == "events":
        df = df.with_columns(pl.when(pl.col("event_type") == "INVENTORY_UPDATED").then(None).otherwise(pl.col("event_timestamp")).alias("event_timestamp"))
    return df.sort(KEYS[name])


out = {}
same = True
for name in KEYS:
    a, b = read(ours, name), read(peer, name)
    b = b.select(a.columns).cast(a.schema)
    equal = a.equals(b)
    out[name] = {"rows": [a.height, b.height], "same": equal}
    same = same and equal
out["stock_units"] = [read(ours, "package_table")["stock_quantity"].sum(), read(peer, "package_table")["stock_quantity"].sum()]
out["quarantine_rows_ours"] = DeltaTable(f"{ours}/quarantine").to_pyarrow_table().num_rows
out["same"] = same and out["quarantine_rows_ours"] == 0
print(json.dumps(out))
sys.exit(0 if out["same"] else 1)
