/** Names of the files in `_delta_log/`. @module */

export const LOG_DIR = "_delta_log/";
export const LAST_CHECKPOINT = `${LOG_DIR}_last_checkpoint`;
/** Where a V2 checkpoint's sidecar files (its add and remove actions) are. */
export const SIDECAR_DIR = `${LOG_DIR}_sidecars/`;

/** `00000000000000000042` for 42. */
export function pad20(version: number): string {
  return String(version).padStart(20, "0");
}

export function commitKey(version: number): string {
  return `${LOG_DIR}${pad20(version)}.json`;
}

export function checkpointKey(version: number): string {
  return `${LOG_DIR}${pad20(version)}.checkpoint.parquet`;
}

/** What a file in `_delta_log/` is, from its key. */
export type LogFile =
  | { kind: "commit"; version: number }
  | { kind: "checkpoint"; version: number; part?: number; parts?: number }
  | { kind: "other" };

export function parseLogKey(key: string): LogFile {
  // Files in folders of the log (a V2 checkpoint's sidecars) are none of these, whatever their name.
  if (key.includes(SIDECAR_DIR)) return { kind: "other" };
  const name = key.slice(key.lastIndexOf("/") + 1);
  let m = /^(\d{20})\.json$/.exec(name);
  if (m) return { kind: "commit", version: Number(m[1]) };
  m = /^(\d{20})\.checkpoint\.parquet$/.exec(name);
  if (m) return { kind: "checkpoint", version: Number(m[1]) };
  m = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/.exec(name);
  if (m) return { kind: "checkpoint", version: Number(m[1]), part: Number(m[2]), parts: Number(m[3]) };
  // A V2 checkpoint (the v2Checkpoint feature): one file, named by a UUID, JSON or Parquet.
  m = /^(\d{20})\.checkpoint\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\.(json|parquet)$/.exec(name);
  if (m) return { kind: "checkpoint", version: Number(m[1]) };
  return { kind: "other" };
}
