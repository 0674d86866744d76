/**
 * Timestamp values: parsed to and formatted from microseconds since the epoch (UTC), the
 * unit Delta and Parquet store them in. Shared by the Arrow conversion, the Delta log and
 * the domains.
 * @module
 */

/**
 * Microseconds since the epoch of a timestamp value, or `undefined` when it is not one.
 *
 * Accepts a bigint (already µs), a `Date`, or an ISO-8601 string `YYYY-MM-DD[T ]HH:MM:SS`
 * with up to 9 fraction digits (cut to 6) and an optional zone (`Z`, `+02:00`, `+0200`;
 * none means UTC). A day or time that does not exist (2024-02-30, 25:00:00) is not one.
 *
 * @example
 * ```ts
 * toMicros("2024-01-02 03:04:05"); // 1704164645000000n
 * toMicros("2024-02-30 00:00:00"); // undefined
 * ```
 */
export function toMicros(v: unknown): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (v instanceof Date) {
    const t = v.getTime();
    return Number.isNaN(t) ? undefined : BigInt(t) * 1000n;
  }
  if (typeof v === "string") {
    // Fast path for the publisher's `YYYY-MM-DD HH:MM:SS` (UTC).
    if (v.length === 19 && v.charCodeAt(10) === 32 && v.charCodeAt(4) === 45 && v.charCodeAt(13) === 58) {
      const [y, mo, d, h, mi, s] = [+v.slice(0, 4), +v.slice(5, 7) - 1, +v.slice(8, 10), +v.slice(11, 13), +v.slice(14, 16), +v.slice(17, 19)];
      const ms = Date.UTC(y, mo, d, h, mi, s);
      const t = new Date(ms);
      // Date.UTC rolls 2024-02-30 over to March: such a value is not a timestamp.
      if (t.getUTCDate() === d && t.getUTCMonth() === mo && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s) return BigInt(ms) * 1000n;
      return undefined;
    }
    const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(v.trim());
    if (!m) return undefined;
    const ms = Date.parse(`${m[1]}T${m[2]}${m[4] ?? "Z"}`);
    if (Number.isNaN(ms)) return undefined;
    // Date.parse, too, rolls a day that does not exist over into the next month.
    if (new Date(Date.parse(`${m[1]}T00:00:00Z`)).toISOString().slice(0, 10) !== m[1]) return undefined;
    const frac = (m[3] ?? "").padEnd(6, "0").slice(0, 6);
    return BigInt(ms) * 1000n + BigInt(frac || "0");
  }
  return undefined;
}

/** Milliseconds since the epoch of a µs timestamp, rounded down (towards the past). */
export function microsToMillis(us: bigint): bigint {
  const ms = us / 1000n;
  return us % 1000n < 0n ? ms - 1n : ms;
}

/**
 * A µs timestamp as `2024-01-02 03:04:05.123456` (`sep` " ") or
 * `2024-01-02T03:04:05.123456` (`sep` "T"), in UTC, always with 6 fraction digits and no zone.
 */
export function formatTimestamp(us: bigint, sep: " " | "T"): string {
  const frac = ((us % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const iso = new Date(Number(microsToMillis(us))).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 10)}${sep}${iso.slice(11, 19)}.${String(frac).padStart(6, "0")}`;
}
