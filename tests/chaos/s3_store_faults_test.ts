/**
 * The S3 store through the fault proxy: what the chaos test found, pinned down. A GetObject
 * whose body breaks off is asked again (the SDK retries such failures for every other
 * call, but reads a GetObject body only after `send` returned). A conditional write that
 * S3 applied but answered with an error (then sent again by the SDK, and refused with 412
 * because of itself) is reported as written, not as lost.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { S3Store } from "../../src/adapters/s3/s3_store.ts";
import { StoreUnavailableError } from "../../src/ports/object_store.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/fault_proxy.ts";
import { type Moto, startMoto } from "../helpers/servers.ts";

describe("S3 store under faults", () => {
  let moto: Moto;
  let proxy: FaultProxy;
  let store: S3Store;
  const body = new Uint8Array(200_000).map((_, i) => i % 251);

  before(async () => {
    moto = await startMoto();
    const bucket = await moto.bucket("faults");
    proxy = await startFaultProxy({ target: moto.endpoint, seed: 1, rate: 0 });
    store = S3Store.fromUrl(`s3://${bucket}/p`, { ...moto.s3, endpoint: proxy.endpoint });
    await store.put("k", body);
  });
  after(async () => {
    await proxy?.stop();
    await moto?.stop();
  });

  test("a GetObject whose body is cut off is read again, whole", async () => {
    proxy.forceNext("truncate", "GET");
    assert.deepEqual(await store.get("k"), body);
    proxy.forceNext("truncate", "GET");
    assert.deepEqual(await store.get("k", { start: 10, end: 100_010 }), body.subarray(10, 100_010));
    proxy.forceNext("truncate", "GET");
    const v = await store.getVersioned("k");
    assert.deepEqual(v?.body, body);
    assert.equal(proxy.counts.get("truncate s3:GET"), 3);
  });

  test("a GetObject whose body keeps breaking off fails after three attempts, as an outage naming the key", async () => {
    for (let i = 0; i < 3; i++) proxy.forceNext("truncate", "GET");
    await assert.rejects(store.get("k"), (err: Error) => {
      const cause = err.cause as Error & { code?: string };
      return err instanceof StoreUnavailableError && /^Reading s3:\/\/.*\/k broke off/.test(err.message) && (cause.code === "ECONNRESET" || cause.message === "aborted");
    });
    assert.equal(proxy.counts.get("truncate s3:GET"), 6);
  });

  for (const kind of ["error-after", "drop-after"] as const) {
    test(`putIfMatch and putIfAbsent whose write was applied but answered with ${kind} report it written`, async () => {
      const before = await store.getVersioned("k");
      const next = new TextEncoder().encode(`next ${kind}`);
      proxy.forceNext(kind, "PUT");
      const tag = await store.putIfMatch("k", next, before!.etag);
      assert.equal(proxy.counts.get(`${kind} s3:PUT`), 1, "the fault was injected");
      const now = await store.getVersioned("k");
      assert.deepEqual(now?.body, next);
      assert.equal(tag, now?.etag, "the tag of our write, not undefined");

      proxy.forceNext(kind, "PUT");
      assert.equal(await store.putIfMatch(`new-${kind}`, next, undefined), (await store.getVersioned(`new-${kind}`))?.etag);
      proxy.forceNext(kind, "PUT");
      assert.equal(await store.putIfAbsent(`absent-${kind}`, next), true);
      assert.equal(proxy.counts.get(`${kind} s3:PUT`), 3);
    });
  }

  test("a write that really lost its race is still reported lost", async () => {
    const v = await store.getVersioned("k");
    assert.ok(await store.putIfMatch("k", new TextEncoder().encode("theirs"), v!.etag));
    assert.equal(await store.putIfMatch("k", new TextEncoder().encode("ours"), v!.etag), undefined);
    assert.equal(await store.putIfAbsent("k", new TextEncoder().encode("ours")), false);
    assert.deepEqual(await store.get("k"), new TextEncoder().encode("theirs"));
  });
});
