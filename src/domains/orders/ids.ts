import { hash } from "node:crypto";

/**
 * A name-based UUID (version 5 layout, SHA-1) of `name`: the same name always gives the
 * same id, so a replayed batch writes the same ids it wrote the first time.
 */
export function stableUuid(name: string): string {
  const h = hash("sha1", name, "hex");
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
