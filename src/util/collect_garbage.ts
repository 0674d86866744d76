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

/** Payload bytes decoded between two young-generation collections. */
const DECODED_PER_COLLECTION = 4 * 1024 * 1024;
let decoded = 0;

/**
 * Records `bytes` of record payload decoded. Decoding makes several times its bytes in
 * text and parsed objects that die at once; every 4 MiB of payload, Bun is asked for a
 * young-generation (asynchronous) collection so that garbage does not pile up over a
 * batch. Costs little: the young generation then holds little that lives.
 */
export function noteDecoded(bytes: number): void {
  decoded += bytes;
  if (decoded < DECODED_PER_COLLECTION) return;
  decoded = 0;
  (globalThis as { Bun?: { gc(force: boolean): void } }).Bun?.gc(false);
}

/** Resident size above which {@link collectBatchGarbage} asks for a full collection. */
const BATCH_RSS_LIMIT = 160 * 1024 * 1024;

/**
 * Asks Bun for a full collection while the process holds more than 160 MiB. The sink calls
 * it twice per batch: once its records are decoded (the text and parsed objects of the
 * batch, and whatever the previous batch left, are garbage then), and once the batch is
 * committed (its records, decoded values and columns, which lived through the batch and so
 * reached the old generation, are garbage then). JavaScriptCore would otherwise let the
 * heap grow over several batches before collecting: the order benchmark peaked at 375-410
 * MiB with the 320 MiB rule alone, about 250 MiB with this, for about 10 % more CPU.
 * V8 (Deno) keeps up on its own.
 */
export function collectBatchGarbage(): void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (!bun || process.memoryUsage.rss() <= BATCH_RSS_LIMIT) return;
  pending = 0;
  bun.gc(true);
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
