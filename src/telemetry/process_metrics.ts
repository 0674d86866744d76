/**
 * The standard process metrics, named as Prometheus' client libraries name them, read at
 * each scrape: CPU seconds, resident memory, open and maximum file descriptors (Linux:
 * from `/proc/self`; left out where there is no `/proc`), and the start time.
 * @module
 */
import * as fs from "node:fs";
import type { Metrics } from "./metrics.ts";

/** Declares the process metrics on `metrics` and reads them at each render. */
export function registerProcessMetrics(metrics: Metrics): void {
  metrics.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
  metrics.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  metrics.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
  metrics.set("process_start_time_seconds", {}, Math.round(Date.now() / 1000 - process.uptime()));
  const fds = fs.existsSync("/proc/self/fd");
  if (fds) {
    metrics.gauge("process_open_fds", "Number of open file descriptors.");
    metrics.gauge("process_max_fds", "Maximum number of open file descriptors.");
    const max = maxFds();
    if (max !== undefined) metrics.set("process_max_fds", {}, max);
  }
  metrics.collect(() => {
    const cpu = process.cpuUsage();
    metrics.set("process_cpu_seconds_total", {}, (cpu.user + cpu.system) / 1e6);
    metrics.set("process_resident_memory_bytes", {}, process.memoryUsage().rss);
    if (fds) {
      try {
        // The listing itself holds one descriptor open while it reads the folder.
        metrics.set("process_open_fds", {}, fs.readdirSync("/proc/self/fd").length - 1);
      } catch {
        // left as last read
      }
    }
  });
}

/** The soft limit of open files, from /proc/self/limits; undefined when unlimited or unknown. */
function maxFds(): number | undefined {
  try {
    const line = fs.readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}
