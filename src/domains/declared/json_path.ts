/**
 * The small JSON path syntax of a tables file: where in a record a column's value is.
 *
 * ```
 * $                     the record (a JSON object)
 * $.user.id             key `user`, then key `id`  (dotted names: letters, digits, _ and -)
 * $['user agent']       a key with any other character, in single or double quotes
 *                       (\' \" and \\ escape a quote or a backslash)
 * $.tags[0]             element 0 of an array (out of range: no value)
 * $.cart[*].sku         every element of the array `cart`: the table gets one row per
 *                       element (the explode); at most one [*] per path
 * ```
 *
 * A key that is absent, or a `null` on the way, gives no value (a missing field). A
 * string, number or boolean where a key or an index must be read is not the record's
 * declared shape: {@link lookup} reports it.
 * @module
 */
import { JsonNumber } from "./exact_json.ts";

/** One step of a path. */
export type PathStep = { kind: "key"; key: string } | { kind: "index"; index: number } | { kind: "each" };

/** A parsed path: its text as written and its steps. */
export interface JsonPath {
  readonly text: string;
  readonly steps: readonly PathStep[];
}

/** A path that does not follow the syntax; the message says where and what was expected. */
export class JsonPathError extends Error {
  override name = "JsonPathError";
}

const NAME = /^[\p{L}\p{N}_-]+/u;
const PLAIN_NAME = /^[\p{L}\p{N}_-]+$/u;

/**
 * Parses a path.
 * @example parseJsonPath("$.cart[*]['unit price']").steps // key cart, each, key "unit price"
 * @throws {JsonPathError} naming the position, what was found there and what was expected.
 */
export function parseJsonPath(text: string): JsonPath {
  const fail = (at: number, expected: string): never => {
    const found = at >= text.length ? "the end" : `'${text.slice(at, at + 12)}'`;
    throw new JsonPathError(`the path '${text}' has ${found} at position ${at + 1}: expected ${expected}`);
  };
  if (text[0] !== "$") fail(0, "'$' (the record) first, as in '$.user.id'");
  const steps: PathStep[] = [];
  let i = 1;
  while (i < text.length) {
    const c = text[i];
    if (c === ".") {
      const m = NAME.exec(text.slice(i + 1));
      if (!m) fail(i + 1, "a key name (letters, digits, _ or -; quote other keys as ['odd key'])");
      steps.push({ kind: "key", key: m![0] });
      i += 1 + m![0].length;
    } else if (c === "[") {
      const q = text[i + 1];
      if (q === "*") {
        if (text[i + 2] !== "]") fail(i + 2, "']' after '[*'");
        if (steps.some((s) => s.kind === "each")) fail(i, "at most one [*] in a path (a table explodes one array)");
        steps.push({ kind: "each" });
        i += 3;
      } else if (q === "'" || q === '"') {
        let key = "";
        let j = i + 2;
        for (; j < text.length && text[j] !== q; j++) {
          if (text[j] === "\\") {
            const e = text[j + 1];
            if (e !== q && e !== "\\") fail(j, `\\${q} or \\\\ (the only escapes in a quoted key)`);
            key += e;
            j++;
          } else key += text[j];
        }
        if (j >= text.length) fail(j, `the closing ${q} of the key`);
        if (text[j + 1] !== "]") fail(j + 1, "']' after the quoted key");
        steps.push({ kind: "key", key });
        i = j + 2;
      } else {
        const m = /^(\d+)\]/.exec(text.slice(i + 1));
        if (!m) fail(i + 1, "an array index like [0], [*] for every element, or a quoted key like ['odd key']");
        steps.push({ kind: "index", index: Number(m![1]) });
        i += 1 + m![0].length;
      }
    } else fail(i, "'.' before a key name, or '[' before an index or a quoted key");
  }
  return { text, steps };
}

/** The text of a path's steps, with quoted keys only where needed: `$.cart[2]['unit price']`. */
export function formatJsonPath(steps: readonly PathStep[]): string {
  let out = "$";
  for (const s of steps) {
    if (s.kind === "each") out += "[*]";
    else if (s.kind === "index") out += `[${s.index}]`;
    else if (PLAIN_NAME.test(s.key)) out += `.${s.key}`;
    else out += `['${s.key.replace(/[\\']/g, "\\$&")}']`;
  }
  return out;
}

/** The steps before and after a path's `[*]`, or `undefined` when it has none. */
export function splitAtEach(steps: readonly PathStep[]): { array: PathStep[]; element: PathStep[] } | undefined {
  const k = steps.findIndex((s) => s.kind === "each");
  return k < 0 ? undefined : { array: steps.slice(0, k), element: steps.slice(k + 1) };
}

/** What {@link lookup} finds: a value (`undefined` when there is none), or why the record's shape does not fit the path. */
export type Lookup = { ok: true; value: unknown } | { ok: false; at: string; expected: string; got: unknown };

/**
 * Follows `steps` (without `[*]`) from `from`, whose own path is `base` (for messages).
 * An absent key, an index out of range or a `null` on the way gives `value: undefined`.
 * Keys are the object's own: `$.toString` of `{}` has no value.
 */
export function lookup(from: unknown, steps: readonly PathStep[], base: readonly PathStep[] = []): Lookup {
  let v = from;
  for (let k = 0; k < steps.length; k++) {
    if (v === null || v === undefined) return { ok: true, value: undefined };
    const s = steps[k]!;
    if (s.kind === "key") {
      if (typeof v !== "object" || Array.isArray(v) || v instanceof JsonNumber) return { ok: false, at: formatJsonPath([...base, ...steps.slice(0, k)]), expected: "an object", got: v };
      v = Object.hasOwn(v, s.key) ? (v as Record<string, unknown>)[s.key] : undefined;
    } else if (s.kind === "index") {
      if (!Array.isArray(v)) return { ok: false, at: formatJsonPath([...base, ...steps.slice(0, k)]), expected: "an array", got: v };
      v = v[s.index];
    } else {
      throw new JsonPathError(`lookup cannot follow [*] (split the path at it first): ${formatJsonPath(steps)}`);
    }
  }
  return { ok: true, value: v === null ? undefined : v };
}
