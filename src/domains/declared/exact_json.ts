/**
 * JSON with the text of its numbers kept where a double would change them: a long beyond
 * 2^53 or a decimal like `0.1000000000000000055` reach their column exactly.
 *
 * `JSON.parse` is fast and right for almost every record; a declared record is parsed again
 * with {@link parseExactJson} only when one of its long or decimal values needs the text.
 * @module
 */

/** A JSON number whose text is not its double's shortest form (`1.50`, `1e3`, `12345678901234567891`). */
export class JsonNumber {
  /** The double `JSON.parse` makes of it. */
  readonly value: number;
  /** The number as the record wrote it. */
  readonly text: string;
  constructor(value: number, text: string) {
    this.value = value;
    this.text = text;
  }
  toJSON(): number {
    return this.value;
  }
}

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;

/**
 * Parses JSON as `JSON.parse` does, except that each number whose text differs from
 * `String(value)` becomes a {@link JsonNumber} holding that text. Uses the `source` that
 * Bun and Deno hand a reviver (TC39 "JSON.parse source text access").
 * @throws {SyntaxError} as `JSON.parse`.
 */
export function parseExactJson(text: string): unknown {
  const reviver: Reviver = (_key, value, context) => {
    if (typeof value !== "number" || context?.source === undefined) return value;
    return context.source === String(value) ? value : new JsonNumber(value, context.source);
  };
  return JSON.parse(text, reviver as (key: string, value: unknown) => unknown);
}

/** The double of a number, wrapped or not. */
export function numberValue(v: number | JsonNumber): number {
  return typeof v === "number" ? v : v.value;
}

/** The text of a number as the record wrote it (its shortest form when it was not wrapped). */
export function numberText(v: number | JsonNumber): string {
  return typeof v === "number" ? String(v) : v.text;
}
