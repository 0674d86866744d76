import assert from "node:assert/strict";
import { test } from "node:test";
import { NotFoundError, type ObjectMeta, type ObjectStore } from "../../src/ports/object_store.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function keys(store: ObjectStore, prefix: string, startAfter?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const m of store.list(prefix, startAfter !== undefined ? { startAfter } : {})) out.push(m.key);
  return out;
}

/**
 * The behaviour every ObjectStore adapter must show. `makeStore` gives a new, empty store
 * for each test.
 */
export function runObjectStoreContract(name: string, makeStore: () => Promise<ObjectStore>): void {
  test(`${name}: get returns what put wrote, whole and by byte range`, async () => {
    const store = await makeStore();
    await store.put("a/b.txt", enc("hello world"));
    assert.equal(dec(await store.get("a/b.txt")), "hello world");
    assert.equal(dec(await store.get("a/b.txt", { start: 6, end: 11 })), "world");
    assert.equal(dec(await store.get("a/b.txt", { start: 0, end: 1 })), "h");
  });

  test(`${name}: put replaces an existing object`, async () => {
    const store = await makeStore();
    await store.put("k", enc("one"));
    await store.put("k", enc("two"));
    assert.equal(dec(await store.get("k")), "two");
  });

  test(`${name}: get of a missing key throws NotFoundError`, async () => {
    const store = await makeStore();
    await assert.rejects(store.get("missing/key"), NotFoundError);
  });

  test(`${name}: head gives size and modification time, undefined when missing`, async () => {
    const store = await makeStore();
    const before = Date.now() - 5000;
    await store.put("x/y.bin", new Uint8Array(1234));
    const meta = await store.head("x/y.bin");
    assert.equal(meta?.size, 1234);
    assert.equal(meta?.key, "x/y.bin");
    assert.ok(meta!.lastModified >= before && meta!.lastModified <= Date.now() + 5000, `lastModified ${meta?.lastModified}`);
    assert.equal(await store.head("x/none"), undefined);
  });

  test(`${name}: putIfAbsent creates once and never overwrites`, async () => {
    const store = await makeStore();
    assert.equal(await store.putIfAbsent("log/0.json", enc("first")), true);
    assert.equal(await store.putIfAbsent("log/0.json", enc("second")), false);
    assert.equal(dec(await store.get("log/0.json")), "first");
  });

  test(`${name}: of many concurrent putIfAbsent calls on one key exactly one wins`, async () => {
    const store = await makeStore();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.putIfAbsent("race", enc(`writer ${i}`))));
    assert.equal(results.filter(Boolean).length, 1);
    const winner = results.indexOf(true);
    assert.equal(dec(await store.get("race")), `writer ${winner}`);
  });

  test(`${name}: list yields keys under a prefix in byte order, after startAfter`, async () => {
    const store = await makeStore();
    const names = ["t/_delta_log/00000000000000000002.json", "t/_delta_log/00000000000000000000.json", "t/_delta_log/00000000000000000001.json", "t/part=b/f.parquet", "t/part=a/f.parquet", "u/other", "t/z\u{E000}", "t/z\u{1F600}"];
    for (const k of names) await store.put(k, enc(k));
    assert.deepEqual(await keys(store, "t/_delta_log/"), [
      "t/_delta_log/00000000000000000000.json",
      "t/_delta_log/00000000000000000001.json",
      "t/_delta_log/00000000000000000002.json",
    ]);
    assert.deepEqual(await keys(store, "t/_delta_log/0000", "t/_delta_log/00000000000000000000.json"), [
      "t/_delta_log/00000000000000000001.json",
      "t/_delta_log/00000000000000000002.json",
    ]);
    assert.deepEqual(await keys(store, "t/part="), ["t/part=a/f.parquet", "t/part=b/f.parquet"]);
    // UTF-8 byte order: U+E000 (EE 80 80) sorts before U+1F600 (F0 9F 98 80).
    assert.deepEqual(await keys(store, "t/z"), ["t/z\u{E000}", "t/z\u{1F600}"]);
    assert.deepEqual(await keys(store, "nothing/"), []);
  });

  test(`${name}: list pages through more keys than one listing page`, async () => {
    const store = await makeStore();
    const all = Array.from({ length: 1100 }, (_, i) => `many/${String(i).padStart(5, "0")}`);
    for (let i = 0; i < all.length; i += 100) await Promise.all(all.slice(i, i + 100).map((k) => store.put(k, new Uint8Array(1))));
    assert.deepEqual(await keys(store, "many/"), all);
  });

  test(`${name}: delete removes an object and ignores a missing one`, async () => {
    const store = await makeStore();
    await store.put("d/1", enc("x"));
    await store.delete("d/1");
    await store.delete("d/never");
    assert.equal(await store.head("d/1"), undefined);
    assert.deepEqual(await keys(store, "d/"), []);
  });

  test(`${name}: list gives each object's size and modification time, as head does (vacuum judges age by them)`, async () => {
    const store = await makeStore();
    const before = Date.now() - 5000;
    await store.put("t/a.parquet", new Uint8Array(10));
    await store.put("t/p=1/b.parquet", new Uint8Array(2345));
    const listed: ObjectMeta[] = [];
    for await (const m of store.list("t/")) listed.push(m);
    assert.deepEqual(listed.map((m) => [m.key, m.size]), [["t/a.parquet", 10], ["t/p=1/b.parquet", 2345]]);
    for (const m of listed) {
      assert.ok(m.lastModified >= before && m.lastModified <= Date.now() + 5000, `lastModified ${m.lastModified}`);
      assert.equal(m.lastModified, (await store.head(m.key))!.lastModified);
    }
  });

  test(`${name}: delete removes only the key given, not its neighbours or a key it prefixes`, async () => {
    const store = await makeStore();
    for (const k of ["v/part-1.parquet", "v/part-1.parquet.crc", "v/part-2.parquet", "v/_delta_log/00000000000000000000.json"]) await store.put(k, enc(k));
    await store.delete("v/part-1.parquet");
    assert.deepEqual(await keys(store, "v/"), ["v/_delta_log/00000000000000000000.json", "v/part-1.parquet.crc", "v/part-2.parquet"]);
  });

  test(`${name}: putIfMatch creates when absent, then only replaces the version it read`, async () => {
    const store = await makeStore();
    assert.equal(await store.getVersioned("cp/shard-1"), undefined);
    const t1 = await store.putIfMatch("cp/shard-1", enc("one"), undefined);
    assert.ok(t1, "created");
    assert.equal(await store.putIfMatch("cp/shard-1", enc("again"), undefined), undefined, "exists: create loses");
    const read = await store.getVersioned("cp/shard-1");
    assert.equal(dec(read!.body), "one");
    assert.equal(read!.etag, t1);
    const t2 = await store.putIfMatch("cp/shard-1", enc("two"), t1);
    assert.ok(t2 && t2 !== t1);
    assert.equal(await store.putIfMatch("cp/shard-1", enc("stale"), t1), undefined, "an old tag loses");
    assert.equal(dec((await store.getVersioned("cp/shard-1"))!.body), "two");
  });

  test(`${name}: of concurrent putIfMatch calls with one tag exactly one wins, many rounds`, async () => {
    const store = await makeStore();
    let tag = await store.putIfMatch("cas", enc("0"), undefined);
    for (let round = 1; round <= 20; round++) {
      const results = await Promise.all([0, 1, 2].map((w) => store.putIfMatch("cas", enc(`${round}:${w}`), tag)));
      const winners = results.filter((r) => r !== undefined);
      assert.equal(winners.length, 1, `round ${round}`);
      const now = await store.getVersioned("cas");
      assert.equal(now!.etag, winners[0]);
      assert.equal(dec(now!.body), `${round}:${results.findIndex((r) => r !== undefined)}`);
      tag = winners[0];
    }
  });

  test(`${name}: keys with spaces, percent signs and non-ASCII characters round-trip`, async () => {
    const store = await makeStore();
    const key = "p=a%2Fb%25c%3Dd e é 😀/part-0.parquet";
    await store.put(key, enc("v"));
    assert.equal(dec(await store.get(key)), "v");
    assert.deepEqual(await keys(store, "p="), [key]);
  });
}
