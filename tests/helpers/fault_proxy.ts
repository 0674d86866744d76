/**
 * A fault-injecting HTTP/1.1 proxy for the chaos tests: put in front of kinesis-local or
 * moto, it forwards each request to the real server and, by a seeded random choice per
 * request, answers it badly instead. Loopback only, bounded (connections, request size,
 * lifetime) and stopping by itself.
 *
 * Faults (`FaultKind`):
 * - `error-500`, `error-503`: answered at once with that status and the service's error
 *   body (S3 XML `InternalError` / `SlowDown`, Kinesis JSON `InternalFailure` /
 *   `ServiceUnavailable`); the server never sees the request.
 * - `error-after`: forwarded (so a write is applied), then answered 500 all the same.
 * - `drop`: the connection is closed without an answer; the server never sees the request.
 * - `drop-after`: forwarded (a write is applied), then the connection is closed without an answer.
 * - `truncate`: forwarded; the answer's headers (with the full `Content-Length`) and only part
 *   of its body are sent, then the connection is closed.
 * - `delay-request`: held before it is forwarded (a write lands late), `delayMs`.
 * - `delay-response`: forwarded at once, its answer held back, `delayMs`.
 * - `stall`: held without an answer until `stallMs` passed (by default until the proxy
 *   stops), then the connection is closed: a server that hangs. The end of the faults does
 *   not release it; only a client timeout gets out earlier.
 * - `throttle`: only for Kinesis GetRecords (`X-Amz-Target: Kinesis_20131202.GetRecords`):
 *   HTTP 400 with `{"__type":"ProvisionedThroughputExceededException",...}` as Kinesis answers.
 *
 * Which request gets which fault is drawn from the seed, the request's key (service,
 * operation, path) and how many requests with that key came before, so the choices do not
 * depend on how concurrent clients interleave (their timing still does).
 *
 * @example
 * const proxy = await startFaultProxy({ target: moto.endpoint, seed: 7, rate: 0.1 });
 * // ... point clients at proxy.endpoint ...
 * proxy.forceNext("stall", "GetRecords"); // the next GetRecords hangs
 * proxy.quiet();                   // no more new faults
 * console.log(proxy.counts);       // faults injected, by kind
 * await proxy.stop();
 */
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FaultKind =
  | "error-500"
  | "error-503"
  | "error-after"
  | "drop"
  | "drop-after"
  | "truncate"
  | "delay-request"
  | "delay-response"
  | "stall"
  | "throttle";

export const FAULT_KINDS: readonly FaultKind[] = [
  "error-500", "error-503", "error-after", "drop", "drop-after", "truncate", "delay-request", "delay-response", "stall", "throttle",
];

/** How often each kind is chosen, relative to the others, when a request gets a fault. */
export const DEFAULT_WEIGHTS: Readonly<Record<FaultKind, number>> = {
  "error-500": 3,
  "error-503": 3,
  "error-after": 2,
  "drop": 2,
  "drop-after": 2,
  "truncate": 2,
  "delay-request": 3,
  "delay-response": 3,
  "stall": 0.2,
  "throttle": 6,
};

export interface FaultProxyOptions {
  /** The real server, `http://127.0.0.1:<port>`. */
  target: string;
  /** Decides every fault. */
  seed: number;
  /** Probability that a request gets a fault. @default 0.1 */
  rate?: number;
  /** Relative weights of the kinds; 0 turns a kind off. @default DEFAULT_WEIGHTS */
  weights?: Partial<Record<FaultKind, number>>;
  /** Delays of `delay-request` / `delay-response`, ms: mostly short, one in five up to the max. @default [20, 6000] */
  delayMs?: [number, number];
  /** How long a `stall` holds a request before closing it. @default until the proxy stops */
  stallMs?: number;
  /** Faults stop this long after the start. @default Infinity (until `quiet()`) */
  faultsForMs?: number;
  /** The proxy closes itself this long after the start, whatever happens. @default 900000 (15 min) */
  lifetimeMs?: number;
  /** Connections open at once; more are refused. @default 256 */
  maxConnections?: number;
  /** Largest request or response body forwarded. @default 64 MiB */
  maxBodyBytes?: number;
  /** Called for each fault injected (a log line for verbose runs). */
  onFault?: (kind: FaultKind, service: "kinesis" | "s3", op: string, path: string) => void;
  /** Called for each answer of the server itself with a 5xx status (not a fault: the server failed). */
  onServerError?: (status: number, service: "kinesis" | "s3", op: string, path: string, body: string) => void;
}

/** Which request a forced fault is for; every field given must match. */
export interface ForceMatch {
  /** Kinesis operation ("GetRecords") or S3 method ("PUT"). */
  op?: string;
  /** Tested against the path, without the query. */
  path?: RegExp;
  /** Tested against the request body as UTF-8. */
  body?: RegExp;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: where clients go instead of `target`. */
  readonly endpoint: string;
  /** Requests seen, faults injected by kind, and by kind and operation (`"drop-after s3:PUT"`). */
  readonly counts: Map<string, number>;
  /** Changes the fault rate from now on (an outage: `setRate(0.9)`; back: `setRate(0.1)`). */
  setRate(rate: number): void;
  /**
   * Gives the next request that matches (operation `op`, e.g. "GetRecords" or "PUT"; a path
   * or a request body matching a pattern) fault `kind`, whatever the rate; one forced
   * fault per call, in the order of the calls.
   */
  forceNext(kind: FaultKind, match?: string | ForceMatch): void;
  /** Stops new faults from now on (requests already stalled stay so: a hung connection does not heal). */
  quiet(): void;
  /** True once faults stopped (`quiet()`, `faultsForMs` or `stop()`). */
  readonly quieted: boolean;
  /** Faults injected so far (every kind). */
  faults(): number;
  /** Requests held by a `stall` right now: their clients have not given up yet. */
  stalled(): number;
  /** Closes the server and every connection. */
  stop(): Promise<void>;
}

/** The service a request is for: Kinesis (JSON protocol, `X-Amz-Target`) or S3. */
function operationOf(req: http.IncomingMessage): { service: "kinesis" | "s3"; op: string } {
  const target = req.headers["x-amz-target"];
  if (typeof target === "string") return { service: "kinesis", op: target.replace(/^Kinesis_\d+\./, "") };
  return { service: "s3", op: req.method ?? "GET" };
}

function errorBody(service: "kinesis" | "s3", status: number): { type: string; body: string } {
  if (service === "kinesis") {
    const type = status === 503 ? "ServiceUnavailable" : "InternalFailure";
    return { type: "application/x-amz-json-1.1", body: JSON.stringify({ __type: type, message: "Injected by the fault proxy" }) };
  }
  const code = status === 503 ? "SlowDown" : "InternalError";
  const message = status === 503 ? "Please reduce your request rate." : "We encountered an internal error. Please try again.";
  return { type: "application/xml", body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>` };
}

/** FNV-1a, 32 bits. */
function hash(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** mulberry32 over a 32-bit state. */
function draws(state: number): () => number {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

class TooLargeError extends Error {
  override name = "TooLargeError";
}

async function readBody(stream: NodeJS.ReadableStream, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const b = typeof c === "string" ? Buffer.from(c) : Buffer.from(c as Uint8Array);
    size += b.length;
    if (size > max) throw new TooLargeError(`body over ${max} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

interface Upstream {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "expect"]);

/** Starts a fault proxy on a free loopback port. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const weights: Record<FaultKind, number> = { ...DEFAULT_WEIGHTS, ...options.weights };
  const [delayMin, delayMax] = options.delayMs ?? [20, 6_000];
  const stallMs = options.stallMs ?? Infinity;
  const maxConnections = options.maxConnections ?? 256;
  const maxBody = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const started = Date.now();
  let rate = options.rate ?? 0.1;
  let quieted = false;
  const counts = new Map<string, number>();
  const count = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  const perKey = new Map<string, number>();
  const sockets = new Set<Socket>();
  const stalls = new Set<() => void>();
  const forced: { kind: FaultKind; match: ForceMatch }[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => (timers.delete(t), resolve()), ms);
      timers.add(t);
    });

  const faultsOn = () => !quieted && Date.now() - started < (options.faultsForMs ?? Infinity);

  /** The fault for this request, or undefined (forward it untouched). */
  function choose(service: "kinesis" | "s3", op: string, path: string, body: Buffer): { kind: FaultKind; r: () => number } | undefined {
    const key = `${service}:${op}:${path}`;
    const n = perKey.get(key) ?? 0;
    perKey.set(key, n + 1);
    const r = draws(hash(`${n}`, hash(key, (options.seed >>> 0) ^ 0x9e3779b9)));
    const f = forced.findIndex(({ kind, match: m }) =>
      (m.op === undefined || m.op === op) && (!m.path || m.path.test(path)) && (!m.body || m.body.test(body.toString("utf8"))) &&
      (kind !== "throttle" || op === "GetRecords")
    );
    if (f >= 0) {
      const kind = forced.splice(f, 1)[0]!.kind;
      count("forced");
      count(`forced ${kind} ${service}:${op}`);
      return { kind, r };
    }
    if (!faultsOn() || r() >= rate) return undefined;
    const kinds = FAULT_KINDS.filter((k) => weights[k] > 0 && (k !== "throttle" || op === "GetRecords"));
    const total = kinds.reduce((s, k) => s + weights[k], 0);
    if (total <= 0) return undefined;
    let x = r() * total;
    for (const k of kinds) {
      x -= weights[k];
      if (x < 0) return { kind: k, r };
    }
    return { kind: kinds[kinds.length - 1]!, r };
  }

  function forward(req: http.IncomingMessage, body: Buffer): Promise<Upstream> {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers["content-length"] = String(body.length);
    return new Promise((resolve, reject) => {
      const up = http.request({ host: target.hostname, port: Number(target.port), method: req.method, path: req.url, headers, agent }, (res) => {
        readBody(res, maxBody).then((b) => {
          const status = res.statusCode ?? 502;
          if (status >= 500) {
            const { service, op } = operationOf(req);
            count("server-5xx");
            count(`server-5xx ${service}:${op}`);
            options.onServerError?.(status, service, op, (req.url ?? "/").split("?")[0]!, b.subarray(0, 2_000).toString());
          }
          resolve({ status, headers: res.headers, body: b });
        }, reject);
      });
      up.once("error", reject);
      up.end(body);
    });
  }

  function answer(res: http.ServerResponse, req: http.IncomingMessage, up: Upstream, truncateTo?: number): void {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    // A HEAD answer's Content-Length is the object's size; every other is the body's.
    if (req.method !== "HEAD" && up.status !== 204 && up.status !== 304) headers["content-length"] = String(up.body.length);
    res.writeHead(up.status, headers);
    if (truncateTo === undefined) {
      res.end(req.method === "HEAD" ? undefined : up.body);
      return;
    }
    res.write(up.body.subarray(0, truncateTo), () => {
      // Let the partial body reach the client before the connection goes.
      setTimeout(() => res.socket?.destroy(), 20);
    });
  }

  function fail(res: http.ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { "content-type": type, "content-length": String(Buffer.byteLength(body)), "x-amzn-requestid": "fault-proxy" });
    res.end(body);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { service, op } = operationOf(req);
    const path = (req.url ?? "/").split("?")[0]!;
    count("requests");
    count(`requests ${service}:${op}`);
    const body = await readBody(req, maxBody);
    const fault = choose(service, op, path, body);
    if (!fault) {
      answer(res, req, await forward(req, body));
      return;
    }
    const { kind, r } = fault;
    count(kind);
    count(`${kind} ${service}:${op}`);
    options.onFault?.(kind, service, op, path);
    const delay = () => Math.round(r() < 0.8 ? delayMin + r() * Math.min(1_000, delayMax - delayMin) : delayMin + r() * (delayMax - delayMin));
    switch (kind) {
      case "error-500":
      case "error-503": {
        const status = kind === "error-500" ? 500 : 503;
        const e = errorBody(service, status);
        fail(res, status, e.type, e.body);
        return;
      }
      case "throttle": {
        const b = JSON.stringify({ __type: "ProvisionedThroughputExceededException", message: "Rate exceeded for shard shardId-000000000000 in stream under account 000000000000." });
        fail(res, 400, "application/x-amz-json-1.1", b);
        return;
      }
      case "drop":
        req.socket.destroy();
        return;
      case "stall": {
        await new Promise<void>((resolve) => {
          const release = () => (stalls.delete(release), clearTimeout(t), timers.delete(t), resolve());
          const t = setTimeout(release, Math.min(stallMs, 2 ** 31 - 1));
          timers.add(t);
          stalls.add(release);
          req.socket.once("close", release);
        });
        req.socket.destroy();
        return;
      }
      case "delay-request":
        await sleep(delay());
        answer(res, req, await forward(req, body));
        return;
      case "delay-response": {
        const up = await forward(req, body);
        await sleep(delay());
        answer(res, req, up);
        return;
      }
      case "error-after": {
        await forward(req, body);
        const e = errorBody(service, 500);
        fail(res, 500, e.type, e.body);
        return;
      }
      case "drop-after":
        await forward(req, body);
        req.socket.destroy();
        return;
      case "truncate": {
        const up = await forward(req, body);
        if (req.method === "HEAD" || up.body.length < 2) {
          // Nothing to cut: the answer is lost instead.
          req.socket.destroy();
          return;
        }
        answer(res, req, up, Math.floor(r() * (up.body.length - 1)));
        return;
      }
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      count("proxy-errors");
      if (err instanceof TooLargeError || !res.headersSent) {
        try {
          const e = errorBody(operationOf(req).service, 502);
          res.writeHead(502, { "content-type": e.type, "content-length": String(Buffer.byteLength(e.body)) });
          res.end(e.body);
          return;
        } catch {
          // fall through: close it
        }
      }
      req.socket.destroy();
    });
  });
  server.on("connection", (socket: Socket) => {
    if (sockets.size >= maxConnections) {
      count("refused-connections");
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  let stopping: Promise<void> | undefined;
  const quiet = () => {
    quieted = true;
    forced.length = 0;
  };
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      quiet();
      for (const release of [...stalls]) release();
      clearTimeout(lifetime);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      agent.destroy();
      await closed;
    })();
    return stopping;
  };
  const lifetime = setTimeout(() => void stop(), options.lifetimeMs ?? 900_000);
  (lifetime as { unref?: () => void }).unref?.();
  if (options.faultsForMs !== undefined && Number.isFinite(options.faultsForMs)) {
    const t = setTimeout(quiet, options.faultsForMs);
    (t as { unref?: () => void }).unref?.();
    timers.add(t);
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    setRate(r: number) {
      rate = r;
    },
    forceNext(kind: FaultKind, match?: string | ForceMatch) {
      forced.push({ kind, match: typeof match === "string" ? { op: match } : match ?? {} });
    },
    quiet,
    get quieted() {
      return !faultsOn();
    },
    stalled() {
      return stalls.size;
    },
    faults() {
      let n = 0;
      for (const k of FAULT_KINDS) n += counts.get(k) ?? 0;
      return n;
    },
    stop,
  };
}

/** The counts of a proxy as one line: `requests 1234, drop 5, ...` (kinds only). */
export function formatCounts(name: string, counts: Map<string, number>): string {
  const parts = [`requests ${counts.get("requests") ?? 0}`];
  for (const k of FAULT_KINDS) if (counts.get(k)) parts.push(`${k} ${counts.get(k)}`);
  for (const k of ["server-5xx", "proxy-errors", "refused-connections"]) if (counts.get(k)) parts.push(`${k} ${counts.get(k)}`);
  const forced = [...counts].filter(([k]) => k.startsWith("forced ")).map(([k, n]) => `${k.slice("forced ".length)}${n > 1 ? ` ×${n}` : ""}`);
  if (forced.length) parts.push(`(aimed: ${forced.join(", ")})`);
  return `${name}: ${parts.join(", ")}`;
}
