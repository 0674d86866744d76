import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./metrics.ts";
import type { HealthAnswer } from "./run_health.ts";

export interface Health {
  /** `/healthz`: is the process alive (making progress, or visibly waiting an outage out)? */
  liveness(): HealthAnswer;
  /** `/readyz`: is data flowing (not starting, no outage, lag within bounds)? */
  readiness(): HealthAnswer;
}

/**
 * Serves `/metrics` (Prometheus text), `/healthz` (liveness) and `/readyz` (readiness) on
 * every interface. Both health endpoints answer JSON with a `status` and, when not fine,
 * the `reasons`: 200 when fine, 503 when not.
 */
export async function serveTelemetry(port: number, metrics: Metrics, health: Health): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const json = (h: HealthAnswer) => {
      res.writeHead(h.ok ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify(h.body) + "\n");
    };
    if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(metrics.render());
    } else if (path === "/healthz") {
      json(health.liveness());
    } else if (path === "/readyz") {
      json(health.readiness());
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Not found: try /metrics, /healthz or /readyz\n");
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
