import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as fs from "node:fs/promises";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "../../util/free_port.ts";

/** Paths of the files a compiled binary carries (set by `src/bin.ts` before `main` loads). */
interface Embedded {
  kinesisLocalMain?: string;
  kinesisLocalServerJson?: string;
}

export interface LocalKinesis {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Runs `main.js` with every `listen` narrowed to loopback (kinesis-local binds all
 * interfaces otherwise), and exits when its stdin closes, so it never outlives its parent.
 */
const PREAMBLE = `
const net = require("node:net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
  else if (args[0] && typeof args[0] === "object" && args[0].host === undefined) args[0] = { ...args[0], host: "127.0.0.1" };
  return listen.apply(this, args);
};
const exit = process.exit.bind(process);
process.stdin.on("data", () => {});
process.stdin.on("end", () => exit(0));
require("./main.js");
`;

/**
 * How to run kinesis-local's CommonJS file: with the runtime running us (Bun, or a
 * Bun-compiled binary acting as `bun`), except under Deno, whose Node compatibility stalls
 * on kinesis-local's large PutRecords answers: there Node or Bun from the PATH is used,
 * and Deno only when neither is installed.
 */
function runtime(file: string): { cmd: string; args: string[]; env: Record<string, string> } {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (!deno) return { cmd: process.execPath, args: [file], env: { BUN_BE_BUN: "1" } };
  for (const name of ["node", "bun"]) {
    const found = (process.env.PATH ?? "").split(path.delimiter).map((d) => path.join(d, name)).find((p) => existsSync(p));
    if (found) return { cmd: found, args: [file], env: {} };
  }
  return { cmd: deno.execPath(), args: ["run", "-A", file], env: {} };
}

/**
 * Starts the embedded local Kinesis (kinesis-local, an npm build of kinesis-mock) on a free
 * loopback port, in a temporary folder holding its `main.js` and `server.json`, and waits
 * until it answers. No AWS account is involved: it is for the demo and local trials.
 */
export async function startLocalKinesis(options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<LocalKinesis> {
  const embedded = (globalThis as { __DS_EMBEDDED?: Embedded }).__DS_EMBEDDED ?? {};
  const require = createRequire(import.meta.url);
  const main = embedded.kinesisLocalMain ?? require.resolve("kinesis-local/main.js");
  const serverJson = embedded.kinesisLocalServerJson ?? path.join(path.dirname(main), "server.json");
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "data-subscriber-kinesis-"));
  await fs.writeFile(path.join(dir, "main.js"), await fs.readFile(main));
  await fs.writeFile(path.join(dir, "server.json"), await fs.readFile(serverJson));
  await fs.writeFile(path.join(dir, "package.json"), '{"type":"commonjs"}\n');
  await fs.writeFile(path.join(dir, "preamble.cjs"), PREAMBLE);
  const port = await freePort();
  let tls = await freePort();
  while (tls === port) tls = await freePort();
  const rt = runtime("preamble.cjs");
  const child: ChildProcess = spawn(rt.cmd, rt.args, {
    cwd: dir,
    env: { ...process.env, ...rt.env, KINESIS_MOCK_PLAIN_PORT: String(port), KINESIS_MOCK_TLS_PORT: String(tls), LOG_LEVEL: "WARN", ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await exited;
      clearTimeout(timer);
    }
    child.stdin?.destroy();
    child.stdout?.destroy();
    child.stderr?.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await cleanup();
      throw new Error(`The local Kinesis exited while starting; its output ended with:\n${output}`);
    }
    try {
      const res = await fetch(`${endpoint}/healthcheck`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await cleanup();
      throw new Error(`The local Kinesis did not answer on ${endpoint} in time; its output ended with:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, stop: cleanup };
}
