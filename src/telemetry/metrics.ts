/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in
 * the text exposition format.
 */
type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  values: Map<string, { labels: Labels; value: number; buckets?: number[]; sum?: number; count?: number }>;
  bounds?: number[];
}

const key = (labels: Labels) => JSON.stringify(Object.entries(labels).sort());

export class Metrics {
  readonly #families = new Map<string, Family>();

  #family(name: string, help: string, type: Family["type"], bounds?: number[]): Family {
    let f = this.#families.get(name);
    if (!f) this.#families.set(name, (f = { name, help, type, values: new Map(), ...(bounds ? { bounds } : {}) }));
    return f;
  }

  /** Adds `by` to a counter. */
  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const f = this.#family(name, help, "counter");
    const k = key(labels);
    const v = f.values.get(k) ?? { labels, value: 0 };
    v.value += by;
    f.values.set(k, v);
  }

  /** Sets a gauge. */
  set(name: string, help: string, labels: Labels, value: number): void {
    const f = this.#family(name, help, "gauge");
    f.values.set(key(labels), { labels, value });
  }

  /** Records one observation in a histogram (seconds, for latencies). */
  observe(name: string, help: string, labels: Labels, value: number, bounds = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]): void {
    const f = this.#family(name, help, "histogram", bounds);
    const k = key(labels);
    const v = f.values.get(k) ?? { labels, value: 0, buckets: bounds.map(() => 0), sum: 0, count: 0 };
    bounds.forEach((b, i) => {
      if (value <= b) v.buckets![i]!++;
    });
    v.sum! += value;
    v.count!++;
    f.values.set(k, v);
  }

  /** The current value of a counter or gauge (0 when never set), for tests and progress lines. */
  get(name: string, labels: Labels = {}): number {
    return this.#families.get(name)?.values.get(key(labels))?.value ?? 0;
  }

  /** Sum of a counter over all label sets. */
  total(name: string): number {
    let n = 0;
    for (const v of this.#families.get(name)?.values.values() ?? []) n += v.value;
    return n;
  }

  render(): string {
    const lines: string[] = [];
    const fmt = (l: Labels) => {
      const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
      return parts.length ? `{${parts.join(",")}}` : "";
    };
    for (const f of this.#families.values()) {
      lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      for (const v of f.values.values()) {
        if (f.type !== "histogram") {
          lines.push(`${f.name}${fmt(v.labels)} ${v.value}`);
          continue;
        }
        f.bounds!.forEach((b, i) => lines.push(`${f.name}_bucket${fmt({ ...v.labels, le: String(b) })} ${v.buckets![i]}`));
        lines.push(`${f.name}_bucket${fmt({ ...v.labels, le: "+Inf" })} ${v.count}`);
        lines.push(`${f.name}_sum${fmt(v.labels)} ${v.sum}`, `${f.name}_count${fmt(v.labels)} ${v.count}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}
