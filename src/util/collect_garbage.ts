/** Bytes of short-lived buffers allocated since the last collection. */
let pending = 0;

/** Allocations after which {@link noteGarbage} looks at the process size. */
const THRESHOLD = 48 * 1024 * 1024;
/** Resident size above which a full collection is asked for. */
const RSS_LIMIT = 320 * 1024 * 1024;

/**
 * Records `bytes` of buffers that are garbage once the caller returns. Once they add up to
 * 48 MiB and the process holds more than 320 MiB, asks Bun for a full collection:
 * JavaScriptCore collects large ArrayBuffers lazily (writing 1M rows in 100k-row files
 * peaked at 755 MiB without this, 234 MiB with it). V8 (Deno) keeps up on its own. A full
 * collection costs tens to hundreds of ms with a large heap, so it is not asked for while
 * memory is fine.
 */
export function noteGarbage(bytes: number): void {
  pending += bytes;
  if (pending < THRESHOLD) return;
  pending = 0;
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun && process.memoryUsage.rss() > RSS_LIMIT) bun.gc(true);
}

/**
 * After a large piece of work whose buffers are all garbage now (a compaction): asks Bun for
 * a full collection when the process holds more than 320 MiB, whatever was noted before.
 */
export function collectGarbage(): void {
  pending = 0;
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun && process.memoryUsage.rss() > RSS_LIMIT) bun.gc(true);
}
