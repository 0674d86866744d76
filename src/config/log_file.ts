import * as fs from "node:fs/promises";
import * as path from "node:path";
import { ConfigError } from "./settings.ts";

/**
 * Checks at start-up that the log file can be opened for appending (creating it when it is
 * absent), so that an unusable `LOG_FILE` stops the start with a message naming the setting
 * instead of an error from deep in the logging library.
 * @param file the log file; empty for none (nothing to check).
 * @param from where the value came from, for the message (`LOG_FILE`, `--log-file`, `the default`).
 * @throws {ConfigError} naming 'log-file', where its value came from, the file and why it cannot be opened.
 */
export async function checkLogFile(file: string, from: string): Promise<void> {
  if (file === "") return;
  try {
    const handle = await fs.open(file, "a");
    await handle.close();
  } catch (err) {
    throw new ConfigError(
      `Cannot start: 'log-file' (from ${from}) must be a file this user can append to: '${file}' cannot be opened (${await why(err, file)}). ` +
        `Set LOG_FILE or --log-file to a file in a folder that exists and is writable, or to '' for no log file`,
    );
  }
}

async function why(err: unknown, file: string): Promise<string> {
  const code = (err as { code?: string }).code;
  const folder = path.dirname(path.resolve(file));
  switch (code) {
    case "ENOENT":
      return (await exists(folder)) ? `ENOENT: ${(err as Error).message}` : `the folder '${folder}' does not exist`;
    case "ENOTDIR":
      return `a part of '${folder}' is a file, not a folder`;
    case "EACCES":
    case "EPERM":
      return `permission denied: this user may not write to '${file}' or to the folder '${folder}'`;
    case "EISDIR":
      return "it is a folder";
    case "EROFS":
      return "the file system is read-only";
    default:
      return (err as Error).message ?? String(err);
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch {
    return false;
  }
}
