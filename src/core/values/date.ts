/**
 * Date values: parsed to and formatted from days since 1970-01-01, the unit Delta and
 * Parquet store them in.
 * @module
 */

/** Milliseconds in a day (UTC days have no leap seconds). */
export const DAY_MS = 86_400_000;

/**
 * Days since 1970-01-01 of a date value, or `undefined` when it is not one: an integer
 * (already days), a `Date` (its UTC day), or a `YYYY-MM-DD` string of a day that exists.
 */
export function toDays(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isInteger(v) ? v : undefined;
  if (v instanceof Date) {
    const t = v.getTime();
    return Number.isNaN(t) ? undefined : Math.floor(t / DAY_MS);
  }
  if (typeof v === "string" && /^[+-]?\d{4,6}-\d{2}-\d{2}$/.test(v)) {
    const t = Date.parse(`${v}T00:00:00Z`);
    if (Number.isNaN(t)) return undefined;
    const days = Math.floor(t / DAY_MS);
    // Date.parse rolls a day that does not exist (2024-02-30) over into the next month.
    if (v.length === 10 && formatDate(days) !== v) return undefined;
    return days;
  }
  return undefined;
}

/** Days since 1970-01-01 as `YYYY-MM-DD`. @example formatDate(19724) // "2024-01-02" */
export function formatDate(days: number): string {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}
