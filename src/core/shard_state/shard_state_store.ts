import type { ObjectStore } from "../../ports/object_store.ts";
import { decodeShardState, encodeShardState, type ShardState } from "./shard_state.ts";

export interface VersionedState {
  state: ShardState;
  etag: string;
}

/**
 * Shard states in an object store, one object per shard under `prefix`
 * (`<prefix><shardId>.json`), every change a compare-and-swap on the object's tag.
 */
export class ShardStateStore {
  constructor(readonly store: ObjectStore, readonly prefix: string) {}

  key(shardId: string): string {
    return `${this.prefix}${shardId}.json`;
  }

  /**
   * The shards that have a state object, in key order. (A store may keep the versions of
   * an object under its key as a folder, as the local folder does: the first part of each
   * key under the prefix names the object.)
   */
  async shardIds(): Promise<string[]> {
    const ids = new Set<string>();
    for await (const m of this.store.list(this.prefix)) {
      const name = m.key.slice(this.prefix.length).split("/")[0]!;
      if (name.endsWith(".json")) ids.add(name.slice(0, -".json".length));
    }
    return [...ids];
  }

  async read(shardId: string): Promise<VersionedState | undefined> {
    const v = await this.store.getVersioned(this.key(shardId));
    return v && { state: decodeShardState(v.body, `${this.store.url}/${this.key(shardId)}`), etag: v.etag };
  }

  /**
   * Writes `state` if the object is still at `etag` (`undefined`: still absent), with its
   * revision incremented. @returns the new version, or `undefined` when another writer won.
   */
  async write(state: ShardState, etag: string | undefined, wallMs: number): Promise<VersionedState | undefined> {
    const next: ShardState = { ...state, revision: state.revision + 1, updatedAt: new Date(wallMs).toISOString() };
    const tag = await this.store.putIfMatch(this.key(state.shardId), encodeShardState(next), etag);
    return tag === undefined ? undefined : { state: next, etag: tag };
  }
}
