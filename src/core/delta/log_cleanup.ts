import type { ObjectStore } from "../../ports/object_store.ts";
import { DAY_MS } from "../values/date.ts";
import { LOG_DIR, parseLogKey } from "./log_paths.ts";
import type { Snapshot } from "./snapshot.ts";
import { LOG_RETENTION_DURATION } from "./table_properties.ts";

/**
 * Deletes log files that expired, as the protocol's "Metadata Cleanup" says: with the
 * cutoff at `now −` {@link LOG_RETENTION_DURATION} (30 days) rounded down to UTC midnight,
 * find the newest commit not newer than the cutoff and the newest checkpoint at or before
 * it; delete the commits and checkpoints older than that checkpoint. So every version
 * from the cutoff on can still be read, and the newest checkpoint is never touched.
 * @returns the number of files deleted.
 * @throws {TableError} when the table's retention property is not valid.
 */
export async function cleanupExpiredLogs(store: ObjectStore, snapshot: Snapshot, now: number): Promise<number> {
  const retention = snapshot.property(LOG_RETENTION_DURATION);
  const cutoff = Math.floor((now - retention) / DAY_MS) * DAY_MS;
  const files: { key: string; version: number; kind: "commit" | "checkpoint"; lastModified: number }[] = [];
  for await (const meta of store.list(LOG_DIR)) {
    const f = parseLogKey(meta.key);
    if (f.kind !== "other") files.push({ key: meta.key, version: f.version, kind: f.kind, lastModified: meta.lastModified });
  }
  let cutoffCommit = -1;
  for (const f of files) if (f.kind === "commit" && f.lastModified <= cutoff && f.version > cutoffCommit) cutoffCommit = f.version;
  let keepFrom = -1;
  for (const f of files) if (f.kind === "checkpoint" && f.version <= cutoffCommit && f.version > keepFrom) keepFrom = f.version;
  if (keepFrom <= 0) return 0;
  let deleted = 0;
  for (const f of files) {
    if (f.version < keepFrom && f.version <= snapshot.version) {
      await store.delete(f.key);
      deleted++;
    }
  }
  return deleted;
}
