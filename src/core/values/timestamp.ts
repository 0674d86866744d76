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
    // Fast path for the publisher's `YYYY-MM-DD HH:MM:SS` (UTC), years 100 on (Date.UTC
    // reads years 0–99 as 1900–1999: those take the ISO path below).
    if (publisherShaped(v) && (v.charCodeAt(0) !== 48 || v.charCodeAt(1) !== 48)) {
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

/** `DDDD-DD-DD DD:DD:DD`, D a digit: separators and digits where the publisher puts them. */
function publisherShaped(v: string): boolean {
  if (v.length !== 19 || v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 32 || v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58) return false;
  for (const i of [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]) if (digit(v, i) < 0) return false;
  return true;
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

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The digit at `i` of `s` (0-9), or -1. */
function digit(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

/**
 * {@link toMicros} of a string as a number when it is a safe integer, else as a bigint
 * (or `undefined` when it is not a timestamp): the same instant, without a `Date` or a
 * BigInt for the publisher's `YYYY-MM-DD HH:MM:SS` (years 100 to 9999), which is read
 * digit by digit here.
 */
export function stringMicros(s: string): number | bigint | undefined {
  if (s.length === 19 && s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45 && s.charCodeAt(10) === 32 && s.charCodeAt(13) === 58 && s.charCodeAt(16) === 58) {
    const d0 = digit(s, 0), d1 = digit(s, 1), d2 = digit(s, 2), d3 = digit(s, 3), m0 = digit(s, 5), m1 = digit(s, 6), a0 = digit(s, 8), a1 = digit(s, 9);
    const h0 = digit(s, 11), h1 = digit(s, 12), i0 = digit(s, 14), i1 = digit(s, 15), s0 = digit(s, 17), s1 = digit(s, 18);
    if ((d0 | d1 | d2 | d3 | m0 | m1 | a0 | a1 | h0 | h1 | i0 | i1 | s0 | s1) >= 0) {
      const y = d0 * 1000 + d1 * 100 + d2 * 10 + d3;
      const mo = m0 * 10 + m1;
      const d = a0 * 10 + a1;
      const h = h0 * 10 + h1;
      const mi = i0 * 10 + i1;
      const sec = s0 * 10 + s1;
      // Years below 100 take toMicros's path (Date.UTC reads them as 19xx).
      if (y >= 100) {
        if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return undefined;
        const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
        if (d > (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1]!)) return undefined;
        // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
        const yy = mo <= 2 ? y - 1 : y;
        const era = Math.floor(yy / 400);
        const yoe = yy - era * 400;
        const doy = Math.floor((153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5) + d - 1;
        const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
        const days = era * 146097 + doe - 719468;
        const seconds = days * 86400 + h * 3600 + mi * 60 + sec;
        const us = seconds * 1_000_000;
        return Number.isSafeInteger(us) ? us : BigInt(seconds) * 1_000_000n;
      }
    }
  }
  const us = toMicros(s);
  if (us === undefined) return undefined;
  return us >= -9007199254740991n && us <= 9007199254740991n ? Number(us) : us;
}
