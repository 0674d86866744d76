/**
 * Time, injected so that tests drive it. `wallMs` is for timestamps written to storage;
 * `monoMs` only moves forward and judges leases and timeouts; `sleep` waits on it.
 */
export interface Clock {
  /** Whole milliseconds since the epoch (written to storage as a long). */
  wallMs(): number;
  /** Milliseconds on a clock that never goes back (not related to the epoch). */
  monoMs(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  wallMs: () => Date.now(),
  monoMs: () => performance.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};
