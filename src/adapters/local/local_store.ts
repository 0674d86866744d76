import * as fs from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ByteRange,
  type ListOptions,
  NotFoundError,
  type ObjectMeta,
  type ObjectStore,
  type Versioned,
} from "../../ports/object_store.ts";
import { systemClock } from "../../ports/clock.ts";
import { POLICIES } from "../../core/retry/policies.ts";
import { retry, RetryExhaustedError } from "../../core/retry/retry.ts";
import { compareUtf8 } from "../../util/utf8_order.ts";

const TEMP_MARK = ".tmp-";
/** Generations of a versioned object kept besides the newest (see `putIfMatch`). */
const KEEP_GENERATIONS = 16;

/**
 * An {@link ObjectStore} on a local folder (plain path or `file://` URI).
 *
 * Writes go to a hidden temp file beside the target first. `put` renames it over the
 * target (atomic replace); `putIfAbsent` hard-links it to the target, which fails with
 * EEXIST when the target exists: exactly one of several racing creators wins, also across
 * processes. Temp files are never listed.
 *
 * A versioned object (`getVersioned` / `putIfMatch`) is a folder at its key holding one
 * file per generation, `g000000000001`, …; its tag is the newest generation's name.
 * `putIfMatch` hard-links the next generation into place, so of several writers holding
 * the same tag exactly one wins; the 16 generations before the newest are kept so that a
 * writer holding an old tag always finds its successor taken.
 */
export class LocalStore implements ObjectStore {
  readonly url: string;
  readonly root: string;

  /** @param location a folder path or a `file://` URI; created on first write. */
  constructor(location: string) {
    this.root = path.resolve(location.startsWith("file://") ? fileURLToPath(location) : location);
    this.url = `file://${this.root}`;
  }

  #path(key: string): string {
    if (key.startsWith("/") || key.split("/").includes("..")) {
      throw new RangeError(`Object key must be relative without '..': got '${key}'`);
    }
    return path.join(this.root, key);
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    const file = this.#path(key);
    try {
      if (!range) return new Uint8Array(await fs.readFile(file));
      const handle = await fs.open(file, "r");
      try {
        const out = new Uint8Array(Math.max(0, range.end - range.start));
        let read = 0;
        while (read < out.length) {
          const { bytesRead } = await handle.read(out, read, out.length - read, range.start + read);
          if (bytesRead === 0) break;
          read += bytesRead;
        }
        return read === out.length ? out : out.slice(0, read);
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (isCode(err, "ENOENT")) throw new NotFoundError(`${this.url}/${key}`, { cause: err });
      throw err;
    }
  }

  async head(key: string): Promise<ObjectMeta | undefined> {
    try {
      const st = await fs.stat(this.#path(key));
      return st.isFile() ? { key, size: st.size, lastModified: Math.floor(st.mtimeMs) } : undefined;
    } catch (err) {
      if (isCode(err, "ENOENT") || isCode(err, "ENOTDIR")) return undefined;
      throw err;
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const target = this.#path(key);
    const temp = await this.#writeTemp(target, body);
    try {
      await fs.rename(temp, target);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const target = this.#path(key);
    const temp = await this.#writeTemp(target, body);
    try {
      await fs.link(temp, target);
      return true;
    } catch (err) {
      if (isCode(err, "EEXIST")) return false;
      throw err;
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    const slash = prefix.lastIndexOf("/");
    const dirKey = slash < 0 ? "" : prefix.slice(0, slash + 1);
    const keys: ObjectMeta[] = [];
    await this.#walk(dirKey, prefix, keys);
    keys.sort((a, b) => compareUtf8(a.key, b.key));
    for (const meta of keys) {
      if (options.startAfter === undefined || compareUtf8(meta.key, options.startAfter) > 0) yield meta;
    }
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.#path(key), { force: true });
  }

  async getVersioned(key: string): Promise<Versioned | undefined> {
    const dir = this.#path(key);
    const read = async (): Promise<Versioned | undefined> => {
      const gens = await generations(dir);
      const newest = gens.at(-1);
      if (newest === undefined) return undefined;
      return { body: new Uint8Array(await fs.readFile(path.join(dir, newest))), etag: newest };
    };
    // Removed by a writer's clean-up between listing and reading: list again.
    try {
      return await retry(read, POLICIES.localVersionedRead, { clock: systemClock, retriable: (err) => isCode(err, "ENOENT") });
    } catch (err) {
      // Give up with the file system's own error, as before the policy.
      throw err instanceof RetryExhaustedError ? err.cause : err;
    }
  }

  async putIfMatch(key: string, body: Uint8Array, etag: string | undefined): Promise<string | undefined> {
    const dir = this.#path(key);
    const gens = await generations(dir);
    if (gens.at(-1) !== etag) return undefined;
    const next = `g${String(etag === undefined ? 1 : Number(etag.slice(1)) + 1).padStart(12, "0")}`;
    const temp = await this.#writeTemp(path.join(dir, next), body);
    try {
      await fs.link(temp, path.join(dir, next));
    } catch (err) {
      if (isCode(err, "EEXIST")) return undefined;
      throw err;
    } finally {
      await fs.rm(temp, { force: true });
    }
    for (const old of gens.slice(0, Math.max(0, gens.length - KEEP_GENERATIONS))) await fs.rm(path.join(dir, old), { force: true });
    return next;
  }

  async #walk(dirKey: string, prefix: string, out: ObjectMeta[]): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(path.join(this.root, dirKey), { withFileTypes: true });
    } catch (err) {
      if (isCode(err, "ENOENT") || isCode(err, "ENOTDIR")) return;
      throw err;
    }
    for (const entry of entries) {
      const key = dirKey + entry.name;
      if (entry.isDirectory()) {
        const sub = key + "/";
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) await this.#walk(sub, prefix, out);
      } else if (entry.isFile() && key.startsWith(prefix) && !isTemp(entry.name)) {
        const meta = await this.head(key);
        if (meta) out.push(meta);
      }
    }
  }

  async #writeTemp(target: string, body: Uint8Array): Promise<string> {
    const dir = path.dirname(target);
    await fs.mkdir(dir, { recursive: true });
    const temp = path.join(dir, `.${path.basename(target)}${TEMP_MARK}${crypto.randomUUID()}`);
    await fs.writeFile(temp, body);
    return temp;
  }
}

/** Generation file names in a versioned object's folder, oldest first. */
async function generations(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).filter((n) => /^g\d{12}$/.test(n)).sort();
  } catch (err) {
    if (isCode(err, "ENOENT") || isCode(err, "ENOTDIR")) return [];
    throw err;
  }
}

function isTemp(name: string): boolean {
  return name.startsWith(".") && name.includes(TEMP_MARK);
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}
