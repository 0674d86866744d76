/**
 * Runs the data-subscriber command line the way users do: the compiled binary when
 * `DS_BIN` names one (`make test` builds it), else `src/main.ts` under this runtime.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { runtimeCommand } from "./runtime.ts";
import { REPO } from "./servers.ts";

export function cliCommand(args: string[]): [string, string[]] {
  const bin = process.env.DS_BIN;
  if (bin) return [path.resolve(REPO, bin), args];
  return runtimeCommand(path.join(REPO, "src/main.ts"), args);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the CLI with this process's environment plus `env` (an `undefined` value unsets a variable); `done` resolves when it exits. */
export function spawnCli(args: string[], env: Record<string, string | undefined>, cwd = REPO): { child: ChildProcess; done: Promise<CliResult>; output(): string } {
  const [cmd, argv] = cliCommand(args);
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) merged[k] = v;
  const child = spawn(cmd, argv, { cwd, env: merged, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, output: () => stdout + stderr };
}

export function runCli(args: string[], env: Record<string, string | undefined>, cwd = REPO): Promise<CliResult> {
  return spawnCli(args, env, cwd).done;
}

/**
 * Sends a signal to a CLI child. `process.kill` and not `child.kill`: Deno's child_process
 * reports a child it signalled itself as killed, even when the child then exits 0.
 */
export function signal(child: ChildProcess, sig: NodeJS.Signals = "SIGTERM"): void {
  process.kill(child.pid!, sig);
}
