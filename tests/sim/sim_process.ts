/**
 * A simulated process: the gate every one of its calls passes through. A crashed process's
 * calls never return (its code stops at whatever await it had reached, as a killed process
 * does); a paused process's calls wait until it resumes (a GC pause, a stopped VM).
 */
import type { Clock } from "../../src/ports/clock.ts";

/** A promise that never settles: where a crashed process's code stops. */
export const never = <T>(): Promise<T> => new Promise<T>(() => {});

export class SimProcess {
  crashed = false;
  #resumeAtMono = -Infinity;

  constructor(readonly name: string, readonly clock: Clock) {}

  get paused(): boolean {
    return !this.crashed && this.clock.monoMs() < this.#resumeAtMono;
  }

  #partitionedUntilMono = -Infinity;

  /** Whether the process's network is cut off now: its store calls fail (the host, not the store, is down). */
  get partitioned(): boolean {
    return !this.crashed && this.clock.monoMs() < this.#partitionedUntilMono;
  }

  /** Cuts the process's network off for `ms`. */
  partitionFor(ms: number): void {
    this.#partitionedUntilMono = Math.max(this.#partitionedUntilMono, this.clock.monoMs() + ms);
  }

  crash(): void {
    this.crashed = true;
  }

  pauseFor(ms: number): void {
    this.#resumeAtMono = Math.max(this.#resumeAtMono, this.clock.monoMs() + ms);
  }

  /** Waits while paused; never returns once crashed. */
  async gate(): Promise<void> {
    for (;;) {
      if (this.crashed) return never();
      const wait = this.#resumeAtMono - this.clock.monoMs();
      if (wait <= 0) return;
      await this.clock.sleep(wait);
    }
  }

  /** This process's view of the shared clock: its sleeps stop with it. */
  view(): Clock {
    const base = this.clock;
    return {
      wallMs: () => base.wallMs(),
      monoMs: () => base.monoMs(),
      sleep: async (ms, signal) => {
        await base.sleep(ms, signal);
        await this.gate();
      },
    };
  }
}
