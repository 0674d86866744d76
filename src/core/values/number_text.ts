/**
 * Numbers as the text they were written in: JSON's number syntax turned into a plain
 * decimal (no exponent), which `toUnscaled` and `BigInt` read without losing a digit.
 * @module
 */

const JSON_NUMBER = /^(-?)(0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Exponents further out than this are not expanded (`1e1000000000` would be a gigabyte of zeros). */
export const MAX_EXPONENT = 400;

/**
 * The plain decimal text of a JSON number's text, or `undefined` when the text is not a
 * JSON number or its exponent lies beyond ±{@link MAX_EXPONENT}. Digits are kept as
 * written: trailing fraction zeros stay, leading integer zeros go.
 *
 * @example
 * ```ts
 * plainNumberText("1.5e2"); // "150"
 * plainNumberText("-25E-3"); // "-0.025"
 * plainNumberText("12.50"); // "12.50"
 * ```
 */
export function plainNumberText(text: string): string | undefined {
  const m = JSON_NUMBER.exec(text);
  if (!m) return undefined;
  const [, sign, int, frac = "", exp = "0"] = m;
  const e = Number(exp);
  if (Math.abs(e) > MAX_EXPONENT) return undefined;
  if (e === 0) return text.replace(/[eE].*$/, "");
  const digits = int! + frac;
  let point = int!.length + e; // where the decimal point falls in `digits`
  let padded = digits;
  if (point > padded.length) padded = padded.padEnd(point, "0");
  if (point < 0) {
    padded = "0".repeat(-point) + padded;
    point = 0;
  }
  const whole = padded.slice(0, point).replace(/^0+(?=\d)/, "") || "0";
  const fraction = padded.slice(point);
  return `${sign}${whole}${fraction ? `.${fraction}` : ""}`;
}
