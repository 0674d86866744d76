import { spawn, type SpawnOptions } from "node:child_process";

/** The command that runs a TypeScript file under the runtime running this test (Bun or Deno). */
export function runtimeCommand(script: string, args: string[] = []): [string, string[]] {
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
  return isDeno ? [process.execPath, ["run", "-A", "--no-check", script, ...args]] : [process.execPath, [script, ...args]];
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript file in a child process of the same runtime and waits for it. */
export function runScript(script: string, args: string[], options: SpawnOptions = {}): Promise<Finished> {
  const [cmd, argv] = runtimeCommand(script, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], ...options });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
