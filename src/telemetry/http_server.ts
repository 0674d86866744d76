import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./metrics.ts";

export interface Health {
  /** Whether the worker is healthy, with details for the response body. */
  check(): { ok: boolean; details: Record<string, unknown> };
}

/** Serves `/metrics` (Prometheus text) and `/healthz` (200 or 503, JSON) on loopback and all interfaces. */
export async function serveTelemetry(port: number, metrics: Metrics, health: Health): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(metrics.render());
    } else if (path === "/healthz") {
      const h = health.check();
      res.writeHead(h.ok ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: h.ok ? "ok" : "unhealthy", ...h.details }) + "\n");
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Not found: try /metrics or /healthz\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
