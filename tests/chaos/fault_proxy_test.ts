/**
 * The fault proxy of the chaos tests does what it says: each fault, against a small
 * upstream server that counts what reaches it.
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { FAULT_KINDS, type FaultKind, type FaultProxy, startFaultProxy } from "../helpers/fault_proxy.ts";

const BODY = Buffer.from(JSON.stringify({ data: "x".repeat(20_000) }));

interface Upstream {
  endpoint: string;
  seen: { method: string; url: string; body: string }[];
  close(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { "content-type": "application/json", "x-upstream": "yes", "content-length": String(BODY.length) });
      res.end(req.method === "HEAD" ? undefined : BODY);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Raw {
  /** The status line's code, or undefined when the connection closed without an answer. */
  status?: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Milliseconds from sending to the close. */
  ms: number;
}

/** One request over a fresh socket; reads until the server closes it (Connection: close). */
function raw(endpoint: string, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Raw> {
  const url = new URL(endpoint);
  const body = opts.body ?? "";
  const head = [
    `${opts.method ?? "POST"} ${opts.path ?? "/bucket/key"} HTTP/1.1`,
    `host: ${url.host}`,
    "connection: close",
    `content-length: ${Buffer.byteLength(body)}`,
    ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    "",
    "",
  ].join("\r\n");
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const socket = net.connect(Number(url.port), url.hostname, () => socket.write(head + body));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => {});
    socket.on("close", () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      if (all.length === 0 || end < 0) return resolve({ headers: {}, body: Buffer.alloc(0), ms: Date.now() - started });
      const lines = all.subarray(0, end).toString().split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(lines[0]!.split(" ")[1]), headers, body: all.subarray(end + 4), ms: Date.now() - started });
    });
    socket.setTimeout(20_000, () => reject(new Error("raw request timed out")));
  });
}

const only = (kind: FaultKind) => Object.fromEntries(FAULT_KINDS.map((k) => [k, k === kind ? 1 : 0]));
const GET_RECORDS = { "x-amz-target": "Kinesis_20131202.GetRecords", "content-type": "application/x-amz-json-1.1" };

describe("fault proxy", () => {
  let up: Upstream;
  const proxies: FaultProxy[] = [];
  const proxy = async (kind: FaultKind | undefined, extra: Parameters<typeof startFaultProxy>[0] extends infer O ? Partial<O> : never = {}) => {
    const p = await startFaultProxy({ target: up.endpoint, seed: 1, rate: kind ? 1 : 0, ...(kind ? { weights: only(kind) } : {}), delayMs: [300, 300], stallMs: 500, ...extra });
    proxies.push(p);
    return p;
  };
  before(async () => (up = await startUpstream()));
  after(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await up.close();
  });

  test("forwards requests and answers untouched when no fault is drawn", async () => {
    const p = await proxy(undefined);
    const before = up.seen.length;
    const res = await raw(p.endpoint, { body: "hello", path: "/b/k?x=1" });
    assert.equal(res.status, 200);
    assert.equal(res.headers["x-upstream"], "yes");
    assert.deepEqual(res.body, BODY);
    assert.deepEqual(up.seen.slice(before), [{ method: "POST", url: "/b/k?x=1", body: "hello" }]);
    const head = await raw(p.endpoint, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], String(BODY.length), "a HEAD answer keeps the object's size");
    assert.equal(head.body.length, 0);
    assert.equal(p.faults(), 0);
  });

  for (const [kind, status, code] of [["error-500", 500, "InternalError"], ["error-503", 503, "SlowDown"]] as const) {
    test(`${kind} answers ${status} with S3's error body, and Kinesis's for Kinesis, without forwarding`, async () => {
      const p = await proxy(kind);
      const before = up.seen.length;
      const s3 = await raw(p.endpoint);
      assert.equal(s3.status, status);
      assert.match(s3.body.toString(), new RegExp(`<Code>${code}</Code>`));
      const kinesis = await raw(p.endpoint, { path: "/", headers: { "x-amz-target": "Kinesis_20131202.PutRecords" }, body: "{}" });
      assert.equal(kinesis.status, status);
      assert.equal(JSON.parse(kinesis.body.toString()).__type, status === 500 ? "InternalFailure" : "ServiceUnavailable");
      assert.equal(up.seen.length, before, "nothing reached the server");
      assert.equal(p.counts.get(kind), 2);
      assert.equal(p.counts.get(`${kind} s3:POST`), 1);
      assert.equal(p.counts.get(`${kind} kinesis:PutRecords`), 1);
    });
  }

  test("error-after applies the request, then answers 500", async () => {
    const p = await proxy("error-after");
    const before = up.seen.length;
    const res = await raw(p.endpoint, { body: "applied" });
    assert.equal(res.status, 500);
    assert.equal(up.seen.length, before + 1);
    assert.equal(up.seen.at(-1)!.body, "applied");
  });

  test("drop closes the connection without an answer and without forwarding", async () => {
    const p = await proxy("drop");
    const before = up.seen.length;
    const res = await raw(p.endpoint);
    assert.equal(res.status, undefined);
    assert.equal(up.seen.length, before);
  });

  test("drop-after applies the request, then closes the connection without an answer", async () => {
    const p = await proxy("drop-after");
    const before = up.seen.length;
    const res = await raw(p.endpoint, { body: "applied" });
    assert.equal(res.status, undefined);
    assert.equal(up.seen.length, before + 1);
  });

  test("truncate sends the full Content-Length and part of the body, then closes", async () => {
    const p = await proxy("truncate");
    const res = await raw(p.endpoint);
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-length"], String(BODY.length));
    assert.ok(res.body.length < BODY.length, `got ${res.body.length} of ${BODY.length} bytes`);
    assert.deepEqual(res.body, BODY.subarray(0, res.body.length));
  });

  test("a truncated body is an error for a node:http client, not a short answer", async () => {
    const p = await proxy("truncate");
    const outcome = await new Promise<string>((resolve) => {
      const req = http.request(`${p.endpoint}/bucket/key`, { method: "GET", agent: false }, (res) => {
        let n = 0;
        res.on("data", (c: Buffer) => (n += c.length));
        res.on("aborted", () => resolve("aborted"));
        res.on("error", (e) => resolve(`error: ${e.message}`));
        res.on("end", () => resolve(n === BODY.length ? "complete" : `end after ${n} of ${BODY.length} bytes`));
      });
      req.on("error", (e) => resolve(`error: ${e.message}`));
      req.end();
    });
    assert.ok(outcome === "aborted" || outcome.startsWith("error"), `outcome: ${outcome}`);
  });

  test("delay-request holds the request before it reaches the server; delay-response holds the answer", async () => {
    const p = await proxy("delay-request", { delayMs: [400, 400] });
    const before = up.seen.length;
    const pending = raw(p.endpoint);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(up.seen.length, before, "not forwarded yet");
    const res = await pending;
    assert.equal(res.status, 200);
    assert.ok(res.ms >= 380, `answered after ${res.ms} ms`);

    const q = await proxy("delay-response", { delayMs: [400, 400] });
    const before2 = up.seen.length;
    const pending2 = raw(q.endpoint);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(up.seen.length, before2 + 1, "forwarded at once");
    const res2 = await pending2;
    assert.equal(res2.status, 200);
    assert.ok(res2.ms >= 380, `answered after ${res2.ms} ms`);
  });

  test("stall holds a request without an answer until stallMs, through quiet(), until stop()", async () => {
    const p = await proxy("stall", { stallMs: 400 });
    const res = await raw(p.endpoint);
    assert.equal(res.status, undefined);
    assert.ok(res.ms >= 380, `closed after ${res.ms} ms`);

    const q = await startFaultProxy({ target: up.endpoint, seed: 1, rate: 1, weights: only("stall") });
    const pending = raw(q.endpoint);
    let done = false;
    void pending.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(q.stalled(), 1);
    q.quiet();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(done, false, "a hung request stays hung when the faults stop");
    assert.equal(q.stalled(), 1);
    assert.equal((await raw(q.endpoint)).status, 200, "new requests pass");
    await q.stop();
    const res2 = await pending;
    assert.equal(res2.status, undefined);
  });

  test("a stalled request is let go when its client gives up", async () => {
    const p = await proxy("stall", { stallMs: 60_000 });
    const url = new URL(p.endpoint);
    const socket = net.connect(Number(url.port), url.hostname, () => socket.write(`GET /b/k HTTP/1.1\r\nhost: ${url.host}\r\ncontent-length: 0\r\n\r\n`));
    socket.on("error", () => {});
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(p.stalled(), 1);
    socket.destroy();
    const deadline = Date.now() + 2_000;
    while (p.stalled() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.stalled(), 0);
  });

  test("forceNext gives the next request of an operation the fault, whatever the rate", async () => {
    const p = await proxy(undefined);
    p.forceNext("error-503", "GetRecords");
    p.forceNext("drop");
    assert.equal((await raw(p.endpoint, { path: "/", headers: GET_RECORDS, body: "{}" })).status, 503);
    assert.equal((await raw(p.endpoint)).status, undefined, "the second forced fault goes to the next request");
    assert.equal((await raw(p.endpoint)).status, 200);
    assert.equal(p.counts.get("error-503 kinesis:GetRecords"), 1);
    assert.equal(p.counts.get("drop s3:POST"), 1);
    assert.equal(p.counts.get("forced"), 2);

    p.forceNext("error-500", { op: "PUT", path: /\/shards\//, body: /"intent": \{/ });
    assert.equal((await raw(p.endpoint, { method: "PUT", path: "/b/shards/s1.json", body: `{"intent": null}` })).status, 200, "the body does not match");
    assert.equal((await raw(p.endpoint, { method: "PUT", path: "/b/tables/x.json", body: `{"intent": {}}` })).status, 200, "the path does not match");
    assert.equal((await raw(p.endpoint, { method: "POST", path: "/b/shards/s1.json", body: `{"intent": {}}` })).status, 200, "the operation does not match");
    assert.equal((await raw(p.endpoint, { method: "PUT", path: "/b/shards/s1.json", body: `{"intent": {"batch": 1}}` })).status, 500);
    assert.equal((await raw(p.endpoint, { method: "PUT", path: "/b/shards/s1.json", body: `{"intent": {"batch": 1}}` })).status, 200, "once");
  });

  test("counts the server's own 5xx answers apart from the faults", async () => {
    const failing = http.createServer((_req, res) => {
      res.writeHead(500, { "content-length": "4" });
      res.end("oops");
    });
    await new Promise<void>((r) => failing.listen(0, "127.0.0.1", () => r()));
    const seen: string[] = [];
    const p = await startFaultProxy({
      target: `http://127.0.0.1:${(failing.address() as AddressInfo).port}`, seed: 1, rate: 0,
      onServerError: (status, service, op, path, body) => seen.push(`${status} ${service}:${op} ${path} ${body}`),
    });
    proxies.push(p);
    assert.equal((await raw(p.endpoint, { method: "GET", path: "/b/k?x=1" })).status, 500);
    assert.equal(p.counts.get("server-5xx"), 1);
    assert.equal(p.faults(), 0);
    assert.deepEqual(seen, ["500 s3:GET /b/k oops"]);
    await new Promise<void>((r) => failing.close(() => r()));
  });

  test("throttle answers GetRecords with ProvisionedThroughputExceededException, and nothing else", async () => {
    const p = await proxy("throttle");
    const res = await raw(p.endpoint, { path: "/", headers: GET_RECORDS, body: "{}" });
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.body.toString()).__type, "ProvisionedThroughputExceededException");
    // Only throttle is allowed and it does not apply to S3: the request passes.
    const s3 = await raw(p.endpoint);
    assert.equal(s3.status, 200);
    assert.equal(p.counts.get("throttle"), 1);
  });

  test("the same seed draws the same faults for the same requests; quiet() and faultsForMs stop them", async () => {
    const run = async (seed: number) => {
      const p = await startFaultProxy({ target: up.endpoint, seed, rate: 0.5, delayMs: [1, 5], stallMs: 50 });
      proxies.push(p);
      const outcomes: string[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await raw(p.endpoint, i % 2 ? { path: "/", headers: GET_RECORDS, body: "{}" } : { path: `/b/k${i % 3}` });
        outcomes.push(`${r.status}:${r.body.length}`);
      }
      return { outcomes, faults: p.faults(), p };
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    assert.deepEqual(a.outcomes, b.outcomes);
    assert.notDeepEqual(a.outcomes, c.outcomes);
    assert.ok(a.faults > 5 && a.faults < 35, `${a.faults} faults of 40 at rate 0.5`);
    a.p.quiet();
    assert.equal(a.p.quieted, true);
    for (let i = 0; i < 10; i++) assert.equal((await raw(a.p.endpoint)).status, 200);

    const timed = await proxy("error-500", { faultsForMs: 300 });
    assert.equal((await raw(timed.endpoint)).status, 500);
    await new Promise((r) => setTimeout(r, 350));
    assert.equal((await raw(timed.endpoint)).status, 200);
  });

  test("listens on loopback only and closes itself at the end of its lifetime", async () => {
    const p = await startFaultProxy({ target: up.endpoint, seed: 1, rate: 0, lifetimeMs: 300 });
    proxies.push(p);
    assert.match(p.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await raw(p.endpoint)).status, 200);
    await new Promise((r) => setTimeout(r, 500));
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(Number(new URL(p.endpoint).port), "127.0.0.1");
      s.on("connect", () => (s.destroy(), resolve(false)));
      s.on("error", () => resolve(true));
    });
    assert.equal(refused, true, "the port no longer accepts connections");
  });
});
