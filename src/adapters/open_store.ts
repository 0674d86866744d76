import type { S3ClientConfig } from "@aws-sdk/client-s3";
import type { ObjectStore } from "../ports/object_store.ts";
import { LocalStore } from "./local/local_store.ts";
import { MemoryStore } from "./memory/memory_store.ts";
import { S3Store } from "./s3/s3_store.ts";

/**
 * Opens the store a URI names: `s3://` or `s3a://` (S3), `memory://name` (process memory),
 * `file://` or a plain path (local folder).
 */
export function openStore(url: string, s3: S3ClientConfig = {}): ObjectStore {
  if (/^s3a?:\/\//.test(url)) return S3Store.fromUrl(url, s3);
  if (url.startsWith("memory://")) return new MemoryStore(url.slice("memory://".length));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith("file://")) {
    throw new RangeError(`Unsupported storage URI '${url}': expected s3://, s3a://, file:// or a local path`);
  }
  return new LocalStore(url);
}
