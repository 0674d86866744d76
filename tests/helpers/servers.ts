/**
 * Real servers the tests start: moto (S3) from the project venv. Each test file that needs
 * one calls `startMoto()` and `stop()`s it in `after`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";

export const REPO = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "../..");

export function pythonBin(): string {
  return process.env.DS_PYTHON || path.join(REPO, ".venv/bin/python");
}

import { freePort } from "../../src/util/free_port.ts";

export { freePort };

/** Polls `check` until it returns true, or throws after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastErr });
}

export interface Moto {
  endpoint: string;
  /** S3 client settings for stores on this server. */
  s3: { endpoint: string; region: string; forcePathStyle: true; credentials: { accessKeyId: string; secretAccessKey: string } };
  /** Creates a fresh bucket and returns its name. */
  bucket(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

/** Starts a moto S3 server (requests serialised, see moto_serial.py) on a free loopback port. */
export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  // moto's own server checks conditions and writes without a lock; this one serialises
  // requests so that conditional writes are atomic, as on S3.
  const script = path.join(REPO, "tests/interop/py/moto_serial.py");
  const child = spawn(pythonBin(), [script, "127.0.0.1", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`moto server on ${endpoint}`, async () => {
      if (child.exitCode !== null) throw new Error(`moto_server exited: ${stderr}`);
      return (await fetch(`${endpoint}/moto-api/`)).ok;
    });
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  const s3 = {
    endpoint,
    region: "us-east-1",
    forcePathStyle: true as const,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  };
  const client = new S3Client(s3);
  let n = 0;
  return {
    endpoint,
    s3,
    async bucket(prefix = "bucket") {
      const name = `${prefix}-${process.pid}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async stop() {
      client.destroy();
      child.kill("SIGTERM");
      children.delete(child);
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    },
  };
}
