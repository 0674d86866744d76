/**
 * A TCP proxy whose network a test switches: `up` forwards every connection to the real
 * server, `refuse` stops listening (clients get ECONNREFUSED) and cuts what is open,
 * `hang` accepts connections and never answers (and holds the open ones). Switching back
 * to `up` listens again on the same port. Loopback only; it closes itself after
 * `lifetimeMs`.
 *
 * @example
 * const s3 = await startOutageProxy(moto.endpoint);
 * // … point the binary at s3.endpoint …
 * await s3.set("refuse"); await sleep(20_000); await s3.set("up");
 */
import * as net from "node:net";

export type OutageMode = "up" | "refuse" | "hang";

export interface OutageProxy {
  readonly endpoint: string;
  readonly mode: OutageMode;
  set(mode: OutageMode): Promise<void>;
  stop(): Promise<void>;
}

export async function startOutageProxy(target: string, lifetimeMs = 15 * 60_000): Promise<OutageProxy> {
  const to = new URL(target);
  const sockets = new Set<net.Socket>();
  let mode: OutageMode = "up";
  let server: net.Server | undefined;
  let port = 0;

  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
  };
  const cutAll = () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const srv = net.createServer((client) => {
        track(client);
        if (mode === "hang") return; // accepted, never answered
        const upstream = net.connect(Number(to.port), to.hostname);
        track(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
        upstream.on("close", () => client.destroy());
        client.on("close", () => upstream.destroy());
      });
      srv.once("error", reject);
      srv.listen(port, "127.0.0.1", () => {
        port = (srv.address() as net.AddressInfo).port;
        server = srv;
        resolve();
      });
    });
  const close = () =>
    new Promise<void>((resolve) => {
      const srv = server;
      server = undefined;
      if (!srv) return resolve();
      srv.close(() => resolve());
    });

  await listen();
  const lifetime = setTimeout(() => void proxy.stop(), lifetimeMs);
  (lifetime as { unref?: () => void }).unref?.();

  const proxy: OutageProxy = {
    get endpoint() {
      return `http://127.0.0.1:${port}`;
    },
    get mode() {
      return mode;
    },
    async set(next) {
      if (next === mode) return;
      const prev = mode;
      mode = next;
      if (next === "refuse") {
        await Promise.all([close(), Promise.resolve(cutAll())]);
      } else if (prev === "refuse") {
        // Listen again on the same port (connections were refused meanwhile).
        for (let i = 0; ; i++) {
          try {
            await listen();
            break;
          } catch (err) {
            if (i > 50) throw err;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
      // hang → up: the held connections stay held (a hung peer does not heal); new ones pass.
    },
    async stop() {
      clearTimeout(lifetime);
      cutAll();
      await close();
    },
  };
  return proxy;
}
