import { createHash } from "node:crypto";

/**
 * A name-based UUID (version 5 layout, SHA-1) of `name`: the same name always gives the
 * same id, so a replayed batch writes the same ids it wrote the first time.
 */
export function stableUuid(name: string): string {
  const h = createHash("sha1").update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString("hex", 0, 16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
