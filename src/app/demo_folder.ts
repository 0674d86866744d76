/**
 * The demo's folder: the demo empties it on every start, so it must never empty a folder
 * holding tables it did not make. It leaves a marker file there recording every file it
 * made (path and size); the next demo empties the folder only when nothing was written
 * there since: no file the demo did not make, none changed. A `run`, `tables init-packages`
 * or Spark writing into the folder adds commit files, and the demo then refuses and says why.
 * @module
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { ConfigError } from "../config/settings.ts";

/** The marker file, at the top of the demo's folder. */
export const DEMO_MARKER = ".data-subscriber-demo";

/** The marker's content (JSON). */
interface DemoRecord {
  madeBy: "data-subscriber demo";
  note?: string;
  /** False while the demo runs: a demo that never finished left no record of what it made. */
  finished: boolean;
  /** Every file the demo made, relative to the folder (with `/`), and its size in bytes. */
  files: Record<string, number>;
}

/**
 * Makes `root` the demo's: checks it is absent, empty, or a demo's folder nobody else wrote to
 * since; empties it; writes the marker. From then until the process exits (normally, on an
 * error, on SIGINT or SIGTERM) the marker records what the demo made.
 * @throws {ConfigError} saying why the folder is not the demo's to empty and what to do.
 */
export async function claimDemoFolder(root: string): Promise<void> {
  await checkDemoFolder(root);
  await fsp.rm(root, { recursive: true, force: true });
  await fsp.mkdir(root, { recursive: true });
  await fsp.writeFile(path.join(root, DEMO_MARKER), encode({ madeBy: "data-subscriber demo", finished: false, files: {} }));
  recordOnExit(root);
}

/**
 * Refuses a folder the demo may not empty: one with files but no marker, one whose demo did not
 * finish (or was made before the marker recorded files), one where files were added or changed
 * since the demo finished.
 * @throws {ConfigError} naming the folder, what was found and what to do.
 */
export async function checkDemoFolder(root: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fsp.readdir(root);
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return;
    throw new ConfigError(`Cannot run the demo in '${root}': the folder cannot be read (${(err as Error).message}). Choose another with --tables-root.`);
  }
  if (entries.length === 0) return;
  const keepIt = `Keep it, and give the demo another folder with --tables-root; or, if nothing in it is needed, remove it yourself (rm -rf '${root}').`;
  if (!entries.includes(DEMO_MARKER)) {
    throw new ConfigError(`Cannot run the demo in '${root}': the folder holds files the demo did not make, and the demo empties its folder. ${keepIt}`);
  }
  const record = readRecord(root);
  if (!record || !record.finished) {
    throw new ConfigError(
      `Cannot run the demo in '${root}': the demo that made this folder did not finish (or an older version made it), so there is no record of what it made, ` +
        `and the demo never deletes tables it did not make (a 'run' may have written there since). ${keepIt}`,
    );
  }
  const changed: string[] = [];
  for (const [file, size] of listFiles(root)) {
    if (file === DEMO_MARKER) continue;
    const made = record.files[file];
    if (made === undefined) changed.push(`${file} (new)`);
    else if (made !== size) changed.push(`${file} (changed)`);
  }
  if (changed.length === 0) return;
  const tables = [...new Set(changed.map((f) => /^(.*?)\/_delta_log\//.exec(f)?.[1]).filter((t): t is string => t !== undefined))];
  throw new ConfigError(
    `Cannot run the demo in '${root}': something other than the demo has written there since the demo made it, and the demo never deletes tables it did not make: ` +
      (tables.length ? `new commits in ${tables.map((t) => `'${t}'`).join(", ")}; ` : "") +
      `${changed.length} file(s) new or changed, e.g. ${changed.slice(0, 3).join(", ")}. A 'run' (or another writer) used this folder. ${keepIt}`,
  );
}

/** Records in the marker every file now in `root` as made by the demo (synchronous: it runs on exit). */
export function recordDemoFolder(root: string): void {
  fs.writeFileSync(path.join(root, DEMO_MARKER), encode({ madeBy: "data-subscriber demo", finished: true, files: Object.fromEntries([...listFiles(root)].filter(([f]) => f !== DEMO_MARKER)) }));
}

/** Writes the record of what the demo made, once, when the process leaves (exit, SIGINT, SIGTERM). */
function recordOnExit(root: string): void {
  let done = false;
  const record = () => {
    if (done) return;
    done = true;
    try {
      recordDemoFolder(root);
    } catch {
      // The folder is gone or unwritable: the next demo refuses it, which is safe.
    }
  };
  const onSignal = (signal: "SIGINT" | "SIGTERM") => {
    record();
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    // Raised again: other handlers (or the default action) now see it.
    process.kill(process.pid, signal);
  };
  const onInt = () => onSignal("SIGINT");
  const onTerm = () => onSignal("SIGTERM");
  process.once("exit", record);
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
}

function readRecord(root: string): DemoRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(root, DEMO_MARKER), "utf8")) as Partial<DemoRecord>;
    if (r.madeBy !== "data-subscriber demo" || typeof r.finished !== "boolean" || typeof r.files !== "object" || r.files === null) return undefined;
    return r as DemoRecord;
  } catch {
    return undefined;
  }
}

/** Every file under `root` (relative, `/`-separated) and its size. */
function listFiles(root: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else out.set(path.relative(root, full).split(path.sep).join("/"), fs.statSync(full).size);
    }
  };
  walk(root);
  return out;
}

function encode(r: DemoRecord): string {
  const note = "Made by 'data-subscriber demo', which empties this folder on its next start unless something else wrote here since.";
  return `${JSON.stringify({ madeBy: r.madeBy, note, finished: r.finished, files: r.files }, null, 1)}\n`;
}
