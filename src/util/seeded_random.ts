/**
 * A seeded source of random numbers in [0, 1) (mulberry32: 32 bits of state, fast, and
 * good enough for jitter and for simulations; not for secrets). The same seed gives the
 * same sequence on every runtime, so a simulation that draws from it alone replays exactly.
 *
 * @param seed any number; its integer part modulo 2^32 is the state (so 1 and 2^32 + 1 agree).
 * @throws {RangeError} when `seed` is not finite.
 * @example
 * const random = seededRandom(42);
 * await retry(fn, POLICIES.kinesisRead, { clock, random });
 */
export function seededRandom(seed: number): () => number {
  if (!Number.isFinite(seed)) throw new RangeError(`A random seed must be a finite number: got ${seed}`);
  let state = Math.trunc(seed) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
