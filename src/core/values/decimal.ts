/**
 * Decimal values: parsed to and formatted from their unscaled integer at a scale, as
 * Delta and Parquet store `decimal(p,s)` (123.45 at scale 2 is 12345).
 * @module
 */

/**
 * The unscaled integer of a decimal value at `scale`, or `undefined` when it is not one
 * or would lose digits: a string (`"-12.50"`, `"+3"`, `".5"`), a finite number (rounded
 * to `scale` digits as `toFixed` does) or a bigint (a whole number).
 *
 * @example
 * ```ts
 * toUnscaled("12.5", 2); // 1250n
 * toUnscaled("12.345", 2); // undefined
 * ```
 */
export function toUnscaled(v: unknown, scale: number): bigint | undefined {
  if (typeof v === "bigint") return v * 10n ** BigInt(scale);
  let s: string;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return undefined;
    s = v.toFixed(scale);
  } else if (typeof v === "string") s = v.trim();
  else return undefined;
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === "" && !m[3])) return undefined;
  const frac = m[3] ?? "";
  if (frac.length > scale && /[^0]/.test(frac.slice(scale))) return undefined;
  const digits = (m[2] || "0") + frac.slice(0, scale).padEnd(scale, "0");
  const n = BigInt(digits);
  return m[1] === "-" ? -n : n;
}

/**
 * Formats an unscaled decimal as a plain string with exactly `scale` fraction digits.
 * @example formatDecimal(-1250n, 2) // "-12.50"
 */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  let s = (neg ? -unscaled : unscaled).toString();
  if (scale > 0) {
    s = s.padStart(scale + 1, "0");
    s = `${s.slice(0, -scale)}.${s.slice(-scale)}`;
  }
  return neg ? `-${s}` : s;
}
