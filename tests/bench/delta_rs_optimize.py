"""delta-rs side of `make bench-maintenance`: DeltaTable(path).optimize.compact() with the
same target size as `tables optimize`. Prints one JSON line (seconds, files before/after)."""
import json, sys, time
from deltalake import DeltaTable

path, target = sys.argv[1], int(sys.argv[2])
t0 = time.time()
dt = DeltaTable(path)
before = len(dt.file_uris())
metrics = dt.optimize.compact(target_size=target)
seconds = time.time() - t0
after = len(DeltaTable(path).file_uris())
print(json.dumps({"seconds": seconds, "filesBefore": before, "filesAfter": after, "metrics": metrics}))
