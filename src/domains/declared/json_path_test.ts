import assert from "node:assert/strict";
import { test } from "node:test";
import { JsonNumber } from "./exact_json.ts";
import { formatJsonPath, JsonPathError, lookup, parseJsonPath, splitAtEach } from "./json_path.ts";

test("a path reads dotted names, quoted keys, indexes and one [*]", () => {
  assert.deepEqual(parseJsonPath("$").steps, []);
  assert.deepEqual(parseJsonPath("$.user.id").steps, [{ kind: "key", key: "user" }, { kind: "key", key: "id" }]);
  assert.deepEqual(parseJsonPath("$.user-agent.año_2").steps, [{ kind: "key", key: "user-agent" }, { kind: "key", key: "año_2" }]);
  assert.deepEqual(parseJsonPath(`$['referrer url']["a \\" b"]['it\\'s']['back\\\\slash']`).steps, [
    { kind: "key", key: "referrer url" }, { kind: "key", key: 'a " b' }, { kind: "key", key: "it's" }, { kind: "key", key: "back\\slash" },
  ]);
  assert.deepEqual(parseJsonPath("$.items[*].sku").steps, [{ kind: "key", key: "items" }, { kind: "each" }, { kind: "key", key: "sku" }]);
  assert.deepEqual(parseJsonPath("$.tags[0]['.']").steps, [{ kind: "key", key: "tags" }, { kind: "index", index: 0 }, { kind: "key", key: "." }]);
});

test("a path that breaks the syntax says where and what was expected", () => {
  const cases: [string, RegExp][] = [
    ["user.id", /the path 'user.id' has 'user.id' at position 1: expected '\$' \(the record\) first/],
    ["$.", /has the end at position 3: expected a key name/],
    ["$..a", /position 3: expected a key name \(letters, digits, _ or -; quote other keys as \['odd key'\]\)/],
    ["$.a b", /position 4: expected '\.' before a key name, or '\[' before an index or a quoted key/],
    ["$.a[-1]", /position 5: expected an array index like \[0\], \[\*\] for every element/],
    ["$.a['b", /expected the closing ' of the key/],
    ["$.a['b'", /expected '\]' after the quoted key/],
    ["$.a['b\\n']", /expected \\' or \\\\ \(the only escapes in a quoted key\)/],
    ["$.a[*].b[*]", /position 9: expected at most one \[\*\] in a path \(a table explodes one array\)/],
    ["$.a[*", /expected '\]' after '\[\*'/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseJsonPath(text), (err: unknown) => err instanceof JsonPathError && message.test(err.message), text);
});

test("formatJsonPath writes a path back, quoting only the keys that need it", () => {
  for (const text of ["$", "$.user.id", "$.cart[*].sku", "$.tags[3]", "$['referrer url']", "$['it\\'s']"]) {
    assert.equal(formatJsonPath(parseJsonPath(text).steps), text);
  }
  assert.equal(formatJsonPath(parseJsonPath(`$["a b"].c`).steps), "$['a b'].c");
});

test("splitAtEach separates the exploded array's path from the element's", () => {
  const s = splitAtEach(parseJsonPath("$.order.items[*].price.amount").steps)!;
  assert.equal(formatJsonPath(s.array), "$.order.items");
  assert.equal(formatJsonPath(s.element), "$.price.amount");
  assert.equal(splitAtEach(parseJsonPath("$.a").steps), undefined);
});

test("lookup finds values; absent keys, nulls on the way and indexes out of range give none", () => {
  const doc = { user: { id: 7, name: null }, tags: ["a", "b"], "odd key": { x: false } };
  const at = (text: string) => lookup(doc, parseJsonPath(text).steps);
  assert.deepEqual(at("$.user.id"), { ok: true, value: 7 });
  assert.deepEqual(at("$.tags[1]"), { ok: true, value: "b" });
  assert.deepEqual(at("$['odd key'].x"), { ok: true, value: false });
  for (const text of ["$.user.name", "$.user.name.first", "$.missing", "$.missing.deeper", "$.tags[5]", "$.toString", "$.user.constructor"]) {
    assert.deepEqual(at(text), { ok: true, value: undefined }, text);
  }
});

test("lookup reports a record whose shape does not fit the path, with where", () => {
  const doc = { user: "ana", tags: { first: "a" }, n: new JsonNumber(1, "1.0") };
  assert.deepEqual(lookup(doc, parseJsonPath("$.user.id").steps), { ok: false, at: "$.user", expected: "an object", got: "ana" });
  assert.deepEqual(lookup(doc, parseJsonPath("$.tags[0]").steps), { ok: false, at: "$.tags", expected: "an array", got: { first: "a" } });
  assert.equal(lookup(doc, parseJsonPath("$.n.x").steps).ok, false);
  const base = parseJsonPath("$.cart[2]").steps;
  assert.deepEqual(lookup([1], parseJsonPath("$.sku").steps, base), { ok: false, at: "$.cart[2]", expected: "an object", got: [1] });
});
