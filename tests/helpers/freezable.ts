/**
 * Wrappers that make a worker freeze as a killed process would: once frozen, every call
 * on the store or the source never returns, so the worker neither renews nor releases.
 */
import type { ObjectStore } from "../../src/ports/object_store.ts";
import type { RecordSource } from "../../src/ports/record_source.ts";

export interface Freezer {
  frozen: boolean;
}

function freezable<T extends object>(target: T, freezer: Freezer): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const v = Reflect.get(t, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (freezer.frozen) return new Promise(() => {});
        const out = v.apply(t, args);
        // An async iterator (list) must freeze between pages too.
        return out;
      };
    },
  });
}

export function freezableStore(store: ObjectStore, freezer: Freezer): ObjectStore {
  return freezable(store, freezer);
}

export function freezableSource(source: RecordSource, freezer: Freezer): RecordSource {
  return freezable(source, freezer);
}
