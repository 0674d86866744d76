/**
 * One process's view of a shared in-memory object store, with the faults S3 shows: errors
 * before a write is applied (5xx, throttling, a 409 on a conditional write), errors after
 * it was applied (the response lost), truncated reads (the SDK fails on the short body),
 * latency; and the process's crash or pause at any call.
 */
import { type ByteRange, type ListOptions, type ObjectMeta, type ObjectStore, StoreUnavailableError, type Versioned } from "../../src/ports/object_store.ts";
import type { SimProcess } from "./sim_process.ts";

/** An injected store failure, as the S3 adapter raises a transient one (network, 5xx, a broken body). */
export class InjectedStoreError extends StoreUnavailableError {
  override name = "InjectedStoreError";
}

export interface StoreFaults {
  /** Probability per call of each fault, while faults are on. */
  errorBefore: number;
  errorAfter: number;
  truncatedRead: number;
  /** Probability of a delay, and its largest value in ms. */
  latency: number;
  maxLatencyMs: number;
}

export interface FaultSwitch {
  /** Whether faults are injected now (off in the quiet phase that judges liveness). */
  on: boolean;
  /** Until this monotonic time, an outage storm: error rates are many times higher. */
  stormUntil: number;
  random: () => number;
  counts: Map<string, number>;
}

export class FaultyStore implements ObjectStore {
  readonly url: string;

  constructor(
    readonly inner: ObjectStore,
    readonly process: SimProcess,
    readonly faults: StoreFaults,
    readonly sw: FaultSwitch,
  ) {
    this.url = inner.url;
  }

  #count(kind: string): void {
    this.sw.counts.set(kind, (this.sw.counts.get(kind) ?? 0) + 1);
  }

  /** Runs one call: gate, maybe latency, maybe a fault before or after, gate again. */
  async #call<T>(op: string, write: boolean, fn: () => Promise<T>): Promise<T> {
    await this.process.gate();
    const sw = this.sw;
    const storm = sw.on && this.process.clock.monoMs() < sw.stormUntil;
    const f = storm
      ? { ...this.faults, errorBefore: 0.4, errorAfter: 0.2, truncatedRead: 0.2, latency: 0.5, maxLatencyMs: 3_000 }
      : this.faults;
    if (sw.on && sw.random() < f.latency) {
      this.#count("store-latency");
      await this.process.clock.sleep(1 + Math.floor(sw.random() * f.maxLatencyMs));
      await this.process.gate();
    }
    if (sw.on && this.process.partitioned) {
      this.#count("store-partitioned-calls");
      throw new InjectedStoreError(`injected: ${op} failed: the host's network is down (connect ETIMEDOUT)`);
    }
    if (sw.on && sw.random() < f.errorBefore) {
      this.#count(`store-error-before-${write ? "write" : "read"}`);
      throw new InjectedStoreError(`injected: ${op} failed before it was applied (503 SlowDown)`);
    }
    const result = await fn();
    // A crash between the server applying the call and the caller seeing the answer.
    await this.process.gate();
    if (sw.on && write && sw.random() < f.errorAfter) {
      this.#count("store-error-after-write");
      throw new InjectedStoreError(`injected: ${op} was applied but its response was lost (connection reset)`);
    }
    if (sw.on && !write && sw.random() < f.truncatedRead) {
      this.#count("store-truncated-read");
      throw new InjectedStoreError(`injected: ${op} response body truncated`);
    }
    return result;
  }

  get(key: string, range?: ByteRange): Promise<Uint8Array> {
    return this.#call(`GET ${key}`, false, () => this.inner.get(key, range));
  }
  head(key: string): Promise<ObjectMeta | undefined> {
    return this.#call(`HEAD ${key}`, false, () => this.inner.head(key));
  }
  put(key: string, body: Uint8Array): Promise<void> {
    return this.#call(`PUT ${key}`, true, () => this.inner.put(key, body));
  }
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    return this.#call(`PUT ${key} If-None-Match`, true, () => this.inner.putIfAbsent(key, body));
  }
  delete(key: string): Promise<void> {
    return this.#call(`DELETE ${key}`, true, () => this.inner.delete(key));
  }
  getVersioned(key: string): Promise<Versioned | undefined> {
    return this.#call(`GET ${key}`, false, () => this.inner.getVersioned(key));
  }
  putIfMatch(key: string, body: Uint8Array, etag: string | undefined): Promise<string | undefined> {
    return this.#call(`PUT ${key} If-Match`, true, () => this.inner.putIfMatch(key, body, etag));
  }
  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectMeta> {
    // A listing is read whole (pages are separate calls on S3; one fault per listing here).
    const all = await this.#call(`LIST ${prefix}`, false, async () => {
      const out: ObjectMeta[] = [];
      for await (const m of this.inner.list(prefix, options)) out.push(m);
      return out;
    });
    yield* all;
  }
}
