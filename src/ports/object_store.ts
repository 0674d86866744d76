/**
 * The object store port: the only way the core touches bytes at rest.
 *
 * Guarantees every adapter gives (the Delta log and the checkpoints rely on them):
 * - Atomic visibility: an object is either absent or holds all the bytes of one `put`.
 * - Mutual exclusion of creation: of several concurrent `putIfAbsent` calls on one key,
 *   exactly one returns `true`; the others return `false` and change nothing.
 * - Consistent listing: after a `put` or `putIfAbsent` returns, `list` shows the key.
 * - `list` yields keys in ascending byte order of their UTF-8 encoding.
 *
 * Keys are relative to the store's root, use `/` as separator and never start with `/`.
 */
export interface ObjectStore {
  /** A URI naming the store's root, for messages (e.g. `s3://bucket/prefix`). */
  readonly url: string;
  /**
   * Reads a whole object, or `range` of it (`end` exclusive).
   * @throws {NotFoundError} when the object does not exist.
   */
  get(key: string, range?: ByteRange): Promise<Uint8Array>;
  /** Metadata of one object, or `undefined` when it does not exist. */
  head(key: string): Promise<ObjectMeta | undefined>;
  /** Writes an object, replacing any previous one. */
  put(key: string, body: Uint8Array): Promise<void>;
  /**
   * Creates an object only if no object exists under the key.
   * @returns `true` when this call created it, `false` when the key already existed.
   */
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean>;
  /** Objects whose key starts with `prefix`, ascending, after `startAfter` when given. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectMeta>;
  /** Deletes an object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Reads an object written by {@link putIfMatch}, with the tag of its current version.
   * @returns `undefined` when the object does not exist.
   */
  getVersioned(key: string): Promise<Versioned | undefined>;
  /**
   * Compare-and-swap: writes `body` only if the object's current tag is `etag`, or, with
   * `etag` undefined, only if the object does not exist. Of several concurrent calls with
   * the same tag at most one succeeds.
   * @returns the new tag, or `undefined` when the object had changed (the caller lost).
   */
  putIfMatch(key: string, body: Uint8Array, etag: string | undefined): Promise<string | undefined>;
}

/** An object's bytes with the tag of that version, for {@link ObjectStore.putIfMatch}. */
export interface Versioned {
  body: Uint8Array;
  etag: string;
}

/** A byte range, `start` inclusive and `end` exclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ObjectMeta {
  key: string;
  size: number;
  /** Last modification, milliseconds since the epoch. */
  lastModified: number;
}

export interface ListOptions {
  /** Only keys strictly greater than this one. */
  startAfter?: string;
}

/** Raised by {@link ObjectStore.get} when the object does not exist. */
export class NotFoundError extends Error {
  override name = "NotFoundError";
  constructor(readonly url: string, options?: ErrorOptions) {
    super(`No object at ${url}`, options);
  }
}

/**
 * The store could not be reached or answered with a server error (connection refused or
 * reset, a timeout, a 5xx, throttling, a body that broke off): worth another try after a
 * pause. The message names the store and the key.
 */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}

/**
 * Retrying will not help: access is denied, the bucket does not exist, the credentials are
 * refused. The message names the bucket (or folder) and says what to check.
 */
export class StoreAccessError extends Error {
  override name = "StoreAccessError";
}
