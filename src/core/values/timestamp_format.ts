/**
 * Timestamps in shapes other than ISO-8601: strftime-style patterns (`%Y-%m-%d %H:%M:%S`),
 * and numbers of seconds, milliseconds or microseconds since the epoch; with the range of
 * timestamps and dates that every Delta reader accepts (years 0001 to 9999).
 * @module
 */
import { DAY_MS } from "./date.ts";

/** 0001-01-01T00:00:00Z in µs since the epoch: the earliest timestamp Spark and delta-rs read. */
export const MIN_TIMESTAMP_MICROS = -62_135_596_800_000_000n;
/** 9999-12-31T23:59:59.999999Z in µs since the epoch: the latest timestamp Spark and delta-rs read. */
export const MAX_TIMESTAMP_MICROS = 253_402_300_799_999_999n;

const DAY_MICROS = BigInt(DAY_MS) * 1000n;

/** Whether a µs timestamp lies in years 0001 to 9999, which every Delta reader accepts. */
export function inTimestampRange(us: bigint): boolean {
  return us >= MIN_TIMESTAMP_MICROS && us <= MAX_TIMESTAMP_MICROS;
}

/** The UTC day (days since 1970-01-01) of a µs timestamp, rounded towards the past. */
export function microsToDays(us: bigint): number {
  const days = us / DAY_MICROS;
  return Number(us % DAY_MICROS < 0n ? days - 1n : days);
}

/** The unit of a number since the epoch. */
export type EpochUnit = "seconds" | "millis" | "micros";

const PER_UNIT: Record<EpochUnit, number> = { seconds: 1_000_000, millis: 1_000, micros: 1 };

/**
 * µs since the epoch of a number of `unit`s since the epoch, rounded to the nearest µs, or
 * `undefined` for NaN and ±Infinity. The whole and fractional parts are scaled apart, so a
 * fraction keeps its µs far from 1970 too.
 *
 * @example
 * ```ts
 * epochToMicros(1_700_000_000.5, "seconds"); // 1700000000500000n
 * epochToMicros(1_700_000_000_123, "millis"); // 1700000000123000n
 * ```
 */
export function epochToMicros(n: number, unit: EpochUnit): bigint | undefined {
  if (!Number.isFinite(n)) return undefined;
  const whole = Math.floor(n);
  const scale = PER_UNIT[unit];
  return BigInt(whole) * BigInt(scale) + BigInt(Math.round((n - whole) * scale));
}

/** A compiled strftime-style pattern. */
export interface TimestampPattern {
  /** The pattern as written. */
  readonly pattern: string;
  /** Whether it reads a time of day (`%H`); without, the time is midnight. */
  readonly hasTime: boolean;
  /** µs since the epoch of `text`, or `undefined` when it does not match or names a day or time that does not exist. */
  parse(text: string): bigint | undefined;
}

/** The directives {@link compileTimestampPattern} knows, with what each reads. */
export const PATTERN_DIRECTIVES: Readonly<Record<string, string>> = {
  Y: "year, 4 digits",
  m: "month, 1-2 digits",
  b: "month, English abbreviation (Jan … Dec, any case)",
  d: "day of the month, 1-2 digits",
  H: "hour 00-23, 1-2 digits",
  M: "minute, 1-2 digits",
  S: "second, 1-2 digits",
  f: "fraction of a second, 1-9 digits (cut to µs)",
  z: "UTC offset: Z, ±HH, ±HHMM or ±HH:MM",
  "%": "a literal %",
};

const DIRECTIVE_REGEX: Record<string, string> = {
  Y: "(\\d{4})", m: "(\\d{1,2})", b: "([A-Za-z]{3})", d: "(\\d{1,2})", H: "(\\d{1,2})", M: "(\\d{1,2})", S: "(\\d{1,2})",
  f: "(\\d{1,9})", z: "(Z|[+-]\\d{2}(?::?\\d{2})?)",
};
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/**
 * Compiles a strftime-style pattern (as Python's `strptime` reads them) into a parser. The
 * directives are those of {@link PATTERN_DIRECTIVES}; every other character must appear as
 * it is. Without `%z` the time is UTC. The pattern must read a year (`%Y`), a month (`%m` or
 * `%b`) and a day (`%d`); `%M`, `%S` and `%f` need the unit above them.
 *
 * @example
 * ```ts
 * compileTimestampPattern("%d/%b/%Y:%H:%M:%S %z").parse("10/Oct/2000:13:55:36 -0700"); // 971211336000000n
 * ```
 * @throws {RangeError} naming the directive that is unknown, repeated or missing.
 */
export function compileTimestampPattern(pattern: string): TimestampPattern {
  const order: string[] = [];
  let regex = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c !== "%") {
      regex += c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
      continue;
    }
    const d = pattern[++i];
    if (d === "%") {
      regex += "%";
      continue;
    }
    if (d === undefined || !(d in DIRECTIVE_REGEX)) {
      throw new RangeError(
        `the pattern '${pattern}' has ${d === undefined ? "a lone % at its end" : `the unknown directive %${d}`}: ` +
          `expected one of ${Object.keys(PATTERN_DIRECTIVES).map((k) => `%${k}`).join(" ")}`,
      );
    }
    if (order.includes(d) || (d === "m" && order.includes("b")) || (d === "b" && order.includes("m"))) {
      throw new RangeError(`the pattern '${pattern}' reads ${d === "m" || d === "b" ? "the month" : `%${d}`} twice`);
    }
    order.push(d);
    regex += DIRECTIVE_REGEX[d];
  }
  const has = (d: string) => order.includes(d);
  const missing = [["Y", "a year (%Y)"], ["m", "a month (%m or %b)"], ["d", "a day (%d)"]].find(([d]) => !(has(d!) || (d === "m" && has("b"))));
  if (missing) throw new RangeError(`the pattern '${pattern}' reads no ${missing[1]}: a timestamp needs a year, a month and a day`);
  for (const [d, above] of [["M", "H"], ["S", "M"], ["f", "S"]] as const) {
    if (has(d) && !has(above)) throw new RangeError(`the pattern '${pattern}' reads %${d} without %${above}`);
  }
  const re = new RegExp(`${regex}$`);
  return {
    pattern,
    hasTime: has("H"),
    parse(text: string): bigint | undefined {
      const m = re.exec(text);
      if (!m) return undefined;
      const part: Record<string, string> = {};
      order.forEach((d, k) => (part[d] = m[k + 1]!));
      const month = part.b !== undefined ? MONTHS.indexOf(part.b.toLowerCase()) + 1 : Number(part.m);
      const [y, d, h, mi, s] = [Number(part.Y), Number(part.d), Number(part.H ?? 0), Number(part.M ?? 0), Number(part.S ?? 0)];
      if (month < 1 || month > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
      const t = new Date(0);
      t.setUTCFullYear(y, month - 1, d); // Date.UTC would read years 0-99 as 1900-1999
      t.setUTCHours(h, mi, s, 0);
      // A day that does not exist (2023-02-29) rolls over into the next month.
      if (t.getUTCDate() !== d || t.getUTCMonth() !== month - 1) return undefined;
      let us = BigInt(t.getTime()) * 1000n + BigInt((part.f ?? "").padEnd(6, "0").slice(0, 6) || "0");
      const z = part.z;
      if (z !== undefined && z !== "Z") {
        const zm = /^([+-])(\d{2}):?(\d{2})?$/.exec(z)!;
        const zh = Number(zm[2]);
        const zmin = Number(zm[3] ?? 0);
        if (zh > 23 || zmin > 59) return undefined;
        us -= BigInt((zm[1] === "-" ? -1 : 1) * (zh * 60 + zmin)) * 60_000_000n;
      }
      return us;
    },
  };
}
