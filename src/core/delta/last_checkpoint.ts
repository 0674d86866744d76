/**
 * `_delta_log/_last_checkpoint`: the hint at the newest checkpoint that readers start from.
 * The snapshot reader reads it; the checkpoint writer writes it.
 * @module
 */
import { NotFoundError, type ObjectStore } from "../../ports/object_store.ts";
import { LAST_CHECKPOINT } from "./log_paths.ts";

/** The content of `_last_checkpoint`, as the protocol's "Last Checkpoint File Schema" names it. */
export interface LastCheckpoint {
  /** The version the checkpoint is of. */
  version: number;
  /** Actions (rows) in the checkpoint. */
  size: number;
  sizeInBytes?: number;
  numOfAddFiles?: number;
  /** Parts of a multi-part checkpoint; absent for a single file. */
  parts?: number;
}

/** The version `_last_checkpoint` names, or -1 when there is none (or it is unreadable). */
export async function readLastCheckpointVersion(store: ObjectStore): Promise<number> {
  try {
    const last = JSON.parse(new TextDecoder().decode(await store.get(LAST_CHECKPOINT))) as { version?: unknown };
    return typeof last.version === "number" ? last.version : -1;
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof SyntaxError) return -1;
    throw err;
  }
}

/** Points `_last_checkpoint` at a checkpoint (replacing what it said). */
export async function writeLastCheckpoint(store: ObjectStore, last: LastCheckpoint): Promise<void> {
  await store.put(LAST_CHECKPOINT, new TextEncoder().encode(JSON.stringify(last)));
}
