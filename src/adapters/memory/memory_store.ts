import {
  type ByteRange,
  type ListOptions,
  NotFoundError,
  type ObjectMeta,
  type ObjectStore,
  type Versioned,
} from "../../ports/object_store.ts";
import { compareUtf8 } from "../../util/utf8_order.ts";

interface Entry {
  body: Uint8Array;
  lastModified: number;
  etag: string;
}

/** An {@link ObjectStore} held in process memory, for tests and benchmarks. */
export class MemoryStore implements ObjectStore {
  readonly url: string;
  readonly #objects = new Map<string, Entry>();
  readonly #now: () => number;
  #tags = 0;

  /** @param now clock for `lastModified`, in ms. @default Date.now */
  constructor(name = "memory", now: () => number = Date.now) {
    this.url = `memory://${name}`;
    this.#now = now;
  }

  get(key: string, range?: ByteRange): Promise<Uint8Array> {
    const entry = this.#objects.get(key);
    if (!entry) return Promise.reject(new NotFoundError(`${this.url}/${key}`));
    const body = range ? entry.body.slice(range.start, range.end) : entry.body.slice();
    return Promise.resolve(body);
  }

  head(key: string): Promise<ObjectMeta | undefined> {
    const entry = this.#objects.get(key);
    return Promise.resolve(entry && { key, size: entry.body.length, lastModified: entry.lastModified });
  }

  put(key: string, body: Uint8Array): Promise<void> {
    this.#set(key, body);
    return Promise.resolve();
  }

  putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    if (this.#objects.has(key)) return Promise.resolve(false);
    this.#set(key, body);
    return Promise.resolve(true);
  }

  getVersioned(key: string): Promise<Versioned | undefined> {
    const entry = this.#objects.get(key);
    return Promise.resolve(entry && { body: entry.body.slice(), etag: entry.etag });
  }

  putIfMatch(key: string, body: Uint8Array, etag: string | undefined): Promise<string | undefined> {
    if (this.#objects.get(key)?.etag !== etag) return Promise.resolve(undefined);
    return Promise.resolve(this.#set(key, body));
  }

  #set(key: string, body: Uint8Array): string {
    const etag = `"${++this.#tags}"`;
    this.#objects.set(key, { body: body.slice(), lastModified: this.#now(), etag });
    return etag;
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    const keys = [...this.#objects.keys()]
      .filter((k) => k.startsWith(prefix) && (options.startAfter === undefined || compareUtf8(k, options.startAfter) > 0))
      .sort(compareUtf8);
    for (const key of keys) {
      const entry = this.#objects.get(key);
      if (entry) yield { key, size: entry.body.length, lastModified: entry.lastModified };
    }
  }

  delete(key: string): Promise<void> {
    this.#objects.delete(key);
    return Promise.resolve();
  }
}
