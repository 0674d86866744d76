/**
 * Synthetic clickstream events, the shape `deploy/examples/clickstream.toml` declares, from
 * a seeded generator: the same seed gives the same events. Each event is a page view; a
 * checkout page view carries the cart being checked out (1-4 items). Some referrers,
 * countries and devices are null, and tags are not all ASCII.
 */
import { seededRandom } from "../util/seeded_random.ts";

const PAGES = [
  ["home", "/"], ["search", "/search?q=caf%C3%A9"], ["product", "/p/jamon-iberico"], ["product", "/p/turron-de-jijona"],
  ["product", "/p/aceite-de-oliva"], ["category", "/c/despensa"], ["cart", "/cart"], ["checkout", "/checkout"],
] as const;
const REFERRERS = ["https://www.google.com/", "https://duckduckgo.com/", "https://shop.example/", "https://t.co/xyz", null] as const;
const COUNTRIES = ["ES", "PT", "FR", "DE", "IT", null] as const;
const DEVICES = [["Android", 412, 915], ["iOS", 390, 844], ["Windows", 1920, 1080], ["macOS", 1512, 982], ["Linux", 2560, 1440]] as const;
const TAGS = ["mobile", "promo", "returning", "ñandú", "🛒"] as const;

function hex(r: () => number, n: number): string {
  return Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join("");
}

/** `YYYY-MM-DD HH:MM:SS` in UTC. */
function stamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/**
 * Makes `count` page-view events starting at `startMs`, about a second apart (so a run of
 * a few thousand crosses midnight when it starts late in a day), one in eight of them a
 * checkout with a cart.
 * @default seed 42, startMs 2025-03-01T23:30:00Z
 */
export function generateClickstream(count: number, seed = 42, startMs = Date.UTC(2025, 2, 1, 23, 30)): Record<string, unknown>[] {
  const r = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: Record<string, unknown>[] = [];
  const users = Array.from({ length: 50 }, () => 10_000 + Math.floor(r() * 90_000));
  for (let n = 0; n < count; n++) {
    const at = startMs + n * 1000 + Math.floor(r() * 1000);
    const [type, url] = r() < 0.125 ? PAGES[7] : pick(PAGES.slice(0, 7));
    const [os, w, h] = pick(DEVICES);
    const event: Record<string, unknown> = {
      event_id: `ev-${String(n).padStart(6, "0")}-${hex(r, 8)}`,
      ts: stamp(at),
      page: { type, url, "referrer url": pick(REFERRERS), title: type === "product" ? "Jamón ibérico 100 g" : null },
      user: { id: pick(users), country: pick(COUNTRIES) },
      session: { id: `s-${hex(r, 12)}`, started_ms: at - Math.floor(r() * 600_000) },
      device: r() < 0.1 ? null : { os, screen: { w, h } },
      tags: r() < 0.5 ? [] : [pick(TAGS), pick(TAGS)],
    };
    if (type === "checkout") {
      event.cart = Array.from({ length: 1 + Math.floor(r() * 4) }, () => ({
        sku: `SKU-${String(Math.floor(r() * 40)).padStart(4, "0")}`,
        qty: 1 + Math.floor(r() * 3),
        unit_price: (1 + Math.floor(r() * 6000) / 100).toFixed(2),
        added_ms: at - Math.floor(r() * 300_000),
      }));
    }
    out.push(event);
  }
  return out;
}

/** Records that do not fit the example's tables, each a different way, for the demo's quarantine. */
export function brokenClickstream(): string[] {
  const base = generateClickstream(1, 1)[0]!;
  const text = (over: Record<string, unknown>) => JSON.stringify({ ...base, ...over });
  return [
    '{"event_id": "ev-cut-short", "ts": ',
    text({ ts: "01/03/2025 08:00" }),
    text({ user: { country: "ES" } }),
    text({ user: { id: "48213" } }),
    text({ page: "/checkout" }),
    text({ page: { type: "checkout", url: "/checkout" }, cart: [{ sku: "SKU-0001", qty: 1.5, unit_price: "3.10" }] }),
    text({ page: { type: "checkout", url: "/checkout" }, cart: [{ sku: "SKU-0001", qty: 1, unit_price: "123456789.10" }] }),
  ];
}
