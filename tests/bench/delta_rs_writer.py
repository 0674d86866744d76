"""delta-rs side of `make bench-writer`: the same rows as order_items.ts, written with
write_deltalake in the same chunks. Prints one JSON line."""
import json, resource, sys, time
from datetime import datetime, timezone, timedelta
import pyarrow as pa
from deltalake import WriterProperties, write_deltalake

path, total, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
BASE = datetime(2025, 1, 1, tzinfo=timezone.utc)
schema = pa.schema([
    ("inventory_id", pa.string()), ("order_id", pa.string()), ("product_id", pa.string()),
    ("product_name", pa.string()), ("order_price", pa.float64()), ("package_id", pa.string()),
    ("subpackage_id", pa.int32()), ("items_quantity", pa.int32()), ("items_weight", pa.float64()),
    ("items_volume", pa.float64()), ("order_timestamp", pa.timestamp("us", tz="UTC")), ("status", pa.string()),
])

def rows(start, count):
    out = []
    for i in range(start, start + count):
        q = i % 7 + 1
        out.append({
            "inventory_id": "inv-%012x" % i, "order_id": "ord-%012x" % (i // 3),
            "product_id": "prod-%d" % (i % 500), "product_name": "Product number %d" % (i % 500),
            "order_price": (i % 1000) / 10 + 1, "package_id": "pkg-%d" % (i % 200),
            "subpackage_id": i % 4, "items_quantity": q,
            "items_weight": None if i % 11 == 0 else q * ((i % 50) / 4 + 0.5),
            "items_volume": float(q * ((i % 30) + 1)),
            "order_timestamp": BASE + timedelta(seconds=i),
            "status": "PROCESSING" if i % 3 == 0 else "PENDING",
        })
    return out

convert = write = 0.0
nbytes = 0
for start in range(0, total, chunk):
    r = rows(start, min(chunk, total - start))
    t0 = time.perf_counter()
    table = pa.Table.from_pylist(r, schema=schema)
    t1 = time.perf_counter()
    # zstd as ours writes (delta-rs writes snappy unless told: 5x larger files, faster).
    write_deltalake(path, table, mode="append", writer_properties=WriterProperties(compression="ZSTD"))
    t2 = time.perf_counter()
    nbytes += table.nbytes
    convert += t1 - t0
    write += t2 - t1
    del r, table
print(json.dumps({"convert_s": convert, "write_s": write, "arrow_bytes": nbytes,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
