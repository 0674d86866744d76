/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format (version 0.0.4).
 *
 * Families are declared before use, with their help text and label names, so that a scrape
 * shows every family from the start: a series whose label values are known up front (one
 * per table) is created at 0 with {@link Metrics.init}. Names follow Prometheus' rules: a
 * counter's name ends in `_total` (refused otherwise), units are base units in the name
 * (`_seconds`, `_bytes`).
 *
 * Why not prom-client: its value reads are asynchronous (the progress lines read counters
 * synchronously), and its default collectors lean on Node internals; what is needed here is
 * this much, checked against a real Prometheus parser in the tests.
 * @module
 */

type Labels = Record<string, string>;

type Kind = "counter" | "gauge" | "histogram";

interface Series {
  labels: Labels;
  value: number;
  buckets?: number[];
  sum?: number;
  count?: number;
}

interface Family {
  name: string;
  help: string;
  type: Kind;
  labelNames: readonly string[];
  series: Map<string, Series>;
  bounds?: readonly number[];
}

/** Latency buckets, in seconds. */
export const SECONDS_BUCKETS: readonly number[] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class Metrics {
  readonly #families = new Map<string, Family>();
  readonly #collectors: (() => void)[] = [];

  /**
   * Declares a counter (again: no-op when the declaration is the same).
   * @throws {Error} when the name does not end in `_total`, or the family exists with another type or labels.
   */
  counter(name: string, help: string, labelNames: readonly string[] = []): void {
    if (!name.endsWith("_total")) throw new Error(`A counter's name ends in _total: got '${name}'`);
    this.#declare(name, help, "counter", labelNames);
  }

  /** Declares a gauge. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): void {
    this.#declare(name, help, "gauge", labelNames);
  }

  /** Declares a histogram with these upper bounds (seconds, for latencies). */
  histogram(name: string, help: string, labelNames: readonly string[] = [], bounds: readonly number[] = SECONDS_BUCKETS): void {
    this.#declare(name, help, "histogram", labelNames, bounds);
  }

  /** Creates the series of these labels at 0 when it does not exist (a label set known up front). */
  init(name: string, labels: Labels = {}): void {
    const f = this.#family(name, labels);
    const k = key(labels);
    if (!f.series.has(k)) f.series.set(k, blank(f, labels));
  }

  /** Adds `by` (≥ 0) to a counter. */
  inc(name: string, labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`A counter only goes up: ${name} by ${by}`);
    this.#series(name, labels, "counter").value += by;
  }

  /** Sets a gauge, or a counter kept elsewhere and read when scraped (CPU seconds). */
  set(name: string, labels: Labels, value: number): void {
    this.#series(name, labels, this.#families.get(name)?.type === "counter" ? "counter" : "gauge").value = value;
  }

  /** Records one observation in a histogram. */
  observe(name: string, labels: Labels, value: number): void {
    const s = this.#series(name, labels, "histogram");
    const bounds = this.#families.get(name)!.bounds!;
    for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]!) s.buckets![i]!++;
    s.sum! += value;
    s.count!++;
  }

  /** Drops a series (a shard no longer held: its lag is no one's now). */
  remove(name: string, labels: Labels): void {
    this.#families.get(name)?.series.delete(key(labels));
  }

  /** Calls `fn` before each render: for values read when scraped (process metrics). */
  collect(fn: () => void): void {
    this.#collectors.push(fn);
  }

  /** The current value of a counter or gauge (0 when never set), for tests and progress lines. */
  get(name: string, labels: Labels = {}): number {
    return this.#families.get(name)?.series.get(key(labels))?.value ?? 0;
  }

  /** Sum of a counter over all label sets. */
  total(name: string): number {
    let n = 0;
    for (const v of this.#families.get(name)?.series.values() ?? []) n += v.value;
    return n;
  }

  /** The names of the declared families. */
  names(): string[] {
    return [...this.#families.keys()];
  }

  /** Every family in the text exposition format: `# HELP`, `# TYPE`, then its samples. */
  render(): string {
    for (const fn of this.#collectors) fn();
    const lines: string[] = [];
    for (const f of this.#families.values()) {
      lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${f.name} ${f.type}`);
      for (const s of f.series.values()) {
        if (f.type !== "histogram") {
          lines.push(`${f.name}${labelText(s.labels)} ${num(s.value)}`);
          continue;
        }
        f.bounds!.forEach((b, i) => lines.push(`${f.name}_bucket${labelText({ ...s.labels, le: num(b) })} ${s.buckets![i]}`));
        lines.push(`${f.name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
        lines.push(`${f.name}_sum${labelText(s.labels)} ${num(s.sum!)}`, `${f.name}_count${labelText(s.labels)} ${s.count}`);
      }
    }
    return lines.join("\n") + "\n";
  }

  #declare(name: string, help: string, type: Kind, labelNames: readonly string[], bounds?: readonly number[]): void {
    if (!NAME.test(name)) throw new Error(`Not a Prometheus metric name: '${name}'`);
    for (const l of labelNames) if (!LABEL.test(l) || l.startsWith("__") || l === "le") throw new Error(`Not a label name for ${name}: '${l}'`);
    const f = this.#families.get(name);
    if (f) {
      if (f.type !== type || f.labelNames.join() !== [...labelNames].sort().join()) {
        throw new Error(`Metric ${name} is already declared as a ${f.type} with labels [${f.labelNames.join(", ")}]`);
      }
      return;
    }
    const family: Family = { name, help, type, labelNames: [...labelNames].sort(), series: new Map() };
    if (type === "histogram") family.bounds = [...bounds!].sort((a, b) => a - b);
    this.#families.set(name, family);
    // A family without labels has exactly one series: there from the start.
    if (labelNames.length === 0) family.series.set(key({}), blank(family, {}));
  }

  #family(name: string, labels: Labels): Family {
    const f = this.#families.get(name);
    if (!f) throw new Error(`Metric ${name} is not declared`);
    const given = Object.keys(labels).sort().join();
    if (given !== f.labelNames.join()) throw new Error(`Metric ${name} has labels [${f.labelNames.join(", ")}]: got [${given}]`);
    return f;
  }

  #series(name: string, labels: Labels, type: Kind): Series {
    const f = this.#family(name, labels);
    if (f.type !== type) throw new Error(`Metric ${name} is a ${f.type}, not a ${type}`);
    const k = key(labels);
    let s = f.series.get(k);
    if (!s) f.series.set(k, (s = blank(f, labels)));
    return s;
  }
}

function blank(f: Family, labels: Labels): Series {
  return f.type === "histogram" ? { labels, value: 0, buckets: f.bounds!.map(() => 0), sum: 0, count: 0 } : { labels, value: 0 };
}

const key = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

function labelText(l: Labels): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
