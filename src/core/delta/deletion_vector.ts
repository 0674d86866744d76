/**
 * Deletion vectors (the `deletionVectors` table feature): the rows of a data file that a
 * DELETE, UPDATE or MERGE of another engine marked deleted without rewriting the file.
 * Reading a file with one means leaving those rows out; this library never writes one
 * (its rewrites replace whole files, and remove the file together with its vector).
 *
 * The format, as PROTOCOL.md ("Deletion Vector Format") gives it: a descriptor in the
 * `add` action says where the vector is (`u`: a file `deletion_vector_<uuid>.bin` beside
 * the data, its UUID Z85-encoded; `i`: inline, Z85-encoded; `p`: an absolute path); at
 * `offset` in the file a 4-byte big-endian size, the serialized vector, and its CRC-32.
 * The vector is a magic number and a `RoaringBitmapArray`: 64-bit row indexes as 32-bit
 * Roaring bitmaps keyed by the high 32 bits, in the portable Roaring format.
 * @module
 */
import type { ObjectStore } from "../../ports/object_store.ts";
import { TableError } from "./errors.ts";
import { absolutePathToKey } from "./partitions.ts";

/** The `deletionVector` field of an `add` or `remove` action. */
export interface DeletionVectorDescriptor {
  storageType: string;
  pathOrInlineDv: string;
  offset?: number | null;
  sizeInBytes: number;
  cardinality: number;
  maxRowIndex?: number | null;
}

/** The magic number that starts a serialized `RoaringBitmapArray` (little-endian). */
const MAGIC = 1681511377;

/** What tells two vectors of one file apart: storage type, path or data, and offset. */
export function deletionVectorId(dv: DeletionVectorDescriptor | null | undefined): string {
  if (!dv) return "";
  return `${dv.storageType}${dv.pathOrInlineDv}${dv.offset != null ? `@${dv.offset}` : ""}`;
}

/** A descriptor as the log holds it (JSON, or a checkpoint's struct), or undefined when absent. */
export function descriptorOf(v: unknown): DeletionVectorDescriptor | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const d = v as Record<string, unknown>;
  if (typeof d.storageType !== "string" || typeof d.pathOrInlineDv !== "string") return undefined;
  return {
    storageType: d.storageType,
    pathOrInlineDv: d.pathOrInlineDv,
    offset: d.offset == null ? null : Number(d.offset),
    sizeInBytes: Number(d.sizeInBytes),
    cardinality: Number(d.cardinality),
    maxRowIndex: d.maxRowIndex == null ? null : Number(d.maxRowIndex),
  };
}

/**
 * The row indexes (0-based positions in the data file) a vector deletes.
 * @throws {TableError} naming the vector when it cannot be read or does not check out.
 */
export async function readDeletionVector(store: ObjectStore, dv: DeletionVectorDescriptor): Promise<Set<number>> {
  const where = `deletion vector ${deletionVectorId(dv)}`;
  let data: Uint8Array;
  if (dv.storageType === "i") {
    // Encoded padded to whole 4-byte groups: the vector is its first sizeInBytes bytes.
    data = z85Decode(dv.pathOrInlineDv).subarray(0, dv.sizeInBytes);
  } else if (dv.storageType === "u" || dv.storageType === "p") {
    const key = dv.storageType === "u" ? relativeVectorPath(dv.pathOrInlineDv) : absoluteKey(store, dv.pathOrInlineDv);
    const file = await store.get(key);
    const at = dv.offset ?? 1;
    if (at + 4 + dv.sizeInBytes + 4 > file.length) throw new TableError(`The ${where} lies beyond the end of ${key} (${file.length} bytes)`);
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
    const size = view.getInt32(at, false);
    if (size !== dv.sizeInBytes) throw new TableError(`The ${where} has ${size} bytes in ${key}, its descriptor says ${dv.sizeInBytes}`);
    data = file.subarray(at + 4, at + 4 + size);
    const crc = view.getUint32(at + 4 + size, false);
    if (crc32(data) !== crc) throw new TableError(`The ${where} in ${key} fails its CRC-32 check`);
  } else {
    throw new TableError(`The ${where} has storage type '${dv.storageType}'; the protocol knows u, i and p`);
  }
  const rows = decodeBitmapArray(data, where);
  if (rows.size !== dv.cardinality) throw new TableError(`The ${where} holds ${rows.size} rows, its descriptor says ${dv.cardinality}`);
  return rows;
}

/** `<prefix>/deletion_vector_<uuid>.bin` for a `u` descriptor (the last 20 characters are the UUID). */
export function relativeVectorPath(pathOrInlineDv: string): string {
  if (pathOrInlineDv.length < 20) throw new TableError(`A deletion vector's path '${pathOrInlineDv}' is shorter than its 20-character UUID`);
  const prefix = pathOrInlineDv.slice(0, -20);
  const b = z85Decode(pathOrInlineDv.slice(-20));
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return `${prefix ? `${prefix}/` : ""}deletion_vector_${uuid}.bin`;
}

/** The store key of an absolute path inside the table's folder. */
function absoluteKey(store: ObjectStore, path: string): string {
  const key = absolutePathToKey(store.url, path);
  if (key === undefined) throw new TableError(`A deletion vector at '${path}' lies outside the table (${store.url})`);
  return key;
}

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
const Z85_VALUE = new Map([...Z85].map((c, i) => [c, i]));

/** Z85 (ZeroMQ's base 85): 5 characters → 4 bytes, big-endian. */
export function z85Decode(text: string): Uint8Array {
  if (text.length % 5 !== 0) throw new TableError(`Z85 text of ${text.length} characters is not a multiple of 5`);
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let v = 0;
    for (let k = 0; k < 5; k++) {
      const d = Z85_VALUE.get(text[i + k]!);
      if (d === undefined) throw new TableError(`'${text[i + k]}' is not a Z85 character`);
      v = v * 85 + d;
    }
    if (v > 0xffffffff) throw new TableError(`Z85 group '${text.slice(i, i + 5)}' is beyond 32 bits`);
    out[o] = v >>> 24;
    out[o + 1] = (v >>> 16) & 0xff;
    out[o + 2] = (v >>> 8) & 0xff;
    out[o + 3] = v & 0xff;
  }
  return out;
}

/** The magic number, then a `RoaringBitmapArray` in the portable format: row indexes. */
export function decodeBitmapArray(data: Uint8Array, where = "deletion vector"): Set<number> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const fail = (what: string) => new TableError(`The ${where} is not a valid RoaringBitmapArray: ${what}`);
  if (data.length < 12) throw fail(`${data.length} bytes`);
  if (view.getInt32(0, true) !== MAGIC) throw fail(`magic number ${view.getInt32(0, true)}, expected ${MAGIC}`);
  const count = Number(view.getBigUint64(4, true));
  let at = 12;
  const rows = new Set<number>();
  for (let b = 0; b < count; b++) {
    if (at + 4 > data.length) throw fail("truncated");
    const high = view.getUint32(at, true);
    at += 4;
    at = decodeRoaring(view, at, (low) => rows.add(high * 2 ** 32 + low), fail);
  }
  return rows;
}

const SERIAL_COOKIE_NO_RUNCONTAINER = 12346;
const SERIAL_COOKIE = 12347;
const NO_OFFSET_THRESHOLD = 4;

/** One 32-bit Roaring bitmap in the portable format at `at`; calls `add` for each value; returns where it ends. */
function decodeRoaring(view: DataView, start: number, add: (v: number) => void, fail: (what: string) => Error): number {
  let at = start;
  const need = (n: number) => {
    if (at + n > view.byteLength) throw fail("truncated");
  };
  need(4);
  const cookie = view.getUint32(at, true);
  let containers: number;
  let runs: Uint8Array | undefined;
  if ((cookie & 0xffff) === SERIAL_COOKIE) {
    containers = (cookie >>> 16) + 1;
    at += 4;
    const bytes = Math.ceil(containers / 8);
    need(bytes);
    runs = new Uint8Array(view.buffer, view.byteOffset + at, bytes);
    at += bytes;
  } else if (cookie === SERIAL_COOKIE_NO_RUNCONTAINER) {
    need(8);
    containers = view.getUint32(at + 4, true);
    at += 8;
  } else {
    throw fail(`Roaring cookie ${cookie}`);
  }
  need(containers * 4);
  const keys: number[] = [];
  const cards: number[] = [];
  for (let i = 0; i < containers; i++) {
    keys.push(view.getUint16(at, true));
    cards.push(view.getUint16(at + 2, true) + 1);
    at += 4;
  }
  // The offset header (one uint32 per container): always without runs; with runs from 4 containers on.
  if (!runs || containers >= NO_OFFSET_THRESHOLD) {
    need(containers * 4);
    at += containers * 4;
  }
  for (let i = 0; i < containers; i++) {
    const base = keys[i]! * 65536;
    const isRun = runs !== undefined && (runs[i >> 3]! & (1 << (i & 7))) !== 0;
    if (isRun) {
      need(2);
      const n = view.getUint16(at, true);
      at += 2;
      need(n * 4);
      for (let r = 0; r < n; r++) {
        const first = view.getUint16(at, true);
        const length = view.getUint16(at + 2, true);
        at += 4;
        for (let v = first; v <= first + length; v++) add(base + v);
      }
    } else if (cards[i]! > 4096) {
      need(8192);
      for (let w = 0; w < 2048; w++) {
        let word = view.getUint32(at + w * 4, true);
        while (word !== 0) {
          const bit = 31 - Math.clz32(word & -word);
          add(base + w * 32 + bit);
          word &= word - 1;
        }
      }
      at += 8192;
    } else {
      need(cards[i]! * 2);
      for (let k = 0; k < cards[i]!; k++) add(base + view.getUint16(at + k * 2, true));
      at += cards[i]! * 2;
    }
  }
  return at;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as java.util.zip.CRC32). */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
