/**
 * Reads Prometheus text exposition with a real parser: prometheus_client's
 * `text_string_to_metric_families` (tests/interop/py/prometheus_parse.py, in the venv).
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { pythonBin, REPO } from "./servers.ts";

export interface MetricFamily {
  /** The family's name as the parser sees it (a counter's without `_total`). */
  name: string;
  /** counter, gauge, histogram … or `unknown` when there was no `# TYPE`. */
  type: string;
  /** The `# HELP` text ("" when there was none). */
  help: string;
  samples: { name: string; labels: Record<string, string>; value: number | string }[];
}

/** Parses `text`; rejects with the parser's message when it is not valid exposition. */
export function parsePrometheus(text: string): Promise<MetricFamily[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(pythonBin(), [path.join(REPO, "tests/interop/py/prometheus_parse.py")], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`prometheus_client could not parse the exposition (exit ${code}): ${err}`));
      else resolve(JSON.parse(out) as MetricFamily[]);
    });
    child.stdin.end(text);
  });
}
