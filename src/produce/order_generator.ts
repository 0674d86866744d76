/**
 * Synthetic order events shaped like the original publisher's (DOMAIN.md), from a seeded
 * generator: the same seed gives the same orders. Orders have 1-4 items with 1-3 packages
 * each, some null weights and volumes, and non-ASCII names and addresses.
 */
import { seededRandom as rng } from "../util/seeded_random.ts";

const PRODUCTS = [
  "Café molido 1 kg", "Aceite de oliva virgen extra", "Jamón ibérico 100 g", "Turrón de Jijona", "Queso manchego curado",
  "Vino tinto Rioja", "Pimentón de la Vera", "Azafrán 1 g", "Horchata 1 l", "Galletas María", "Chorizo picante",
  "Atún en aceite", "Miel de romero", "Lentejas pardinas", "Arroz bomba", "Gazpacho 1 l", "Mantecados 🎄", "Agua mineral 6×1,5 l",
];
const STREETS = ["Calle de Alcalá", "Passeig de Gràcia", "Avenida de la Constitución", "Rúa do Franco", "Plaça Reial", "Calle Mayor", "Camino de Santiago"];
const CITIES = [["Madrid", "Comunidad de Madrid", "28014"], ["Barcelona", "Cataluña", "08007"], ["Sevilla", "Andalucía", "41004"], ["Santiago de Compostela", "Galicia", "15705"], ["València", "Comunitat Valenciana", "46002"]] as const;

/** The package groups the generator uses: `pkg-000` … `pkg-029`, subpackages 1-3. */
export const PACKAGE_IDS = Array.from({ length: 30 }, (_, i) => `pkg-${String(i).padStart(3, "0")}`);
export const SUBPACKAGES = [1, 2, 3];

function uuid(r: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Makes `count` orders starting at `startMs`, one second apart. */
export function generateOrders(count: number, seed = 42, startMs = Date.UTC(2025, 0, 1)): Record<string, unknown>[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: Record<string, unknown>[] = [];
  for (let n = 0; n < count; n++) {
    const at = startMs + n * 1000;
    const items = Array.from({ length: 1 + Math.floor(r() * 4) }, () => {
      const quantity = 1 + Math.floor(r() * 3);
      const packages = Array.from({ length: 1 + Math.floor(r() * 3) }, () => ({
        package_id: pick(PACKAGE_IDS),
        subpackage_id: pick(SUBPACKAGES),
        quantity: 1 + Math.floor(r() * 2),
        weight: r() < 0.1 ? null : round2(0.2 + r() * 5),
        volume: r() < 0.05 ? null : round2(0.5 + r() * 20),
      }));
      const name = pick(PRODUCTS);
      return { product_id: `prod-${PRODUCTS.indexOf(name)}`, product_name: name, price: round2(1 + r() * 60), quantity, packages };
    });
    const [city, state, postcode] = pick(CITIES);
    const lat = round2(36 + r() * 7);
    const lon = round2(-9 + r() * 12);
    const weight = items.reduce((w, i) => w + i.packages.reduce((x, p) => x + (p.weight ?? 0) * p.quantity * i.quantity, 0), 0);
    const volume = items.reduce((w, i) => w + i.packages.reduce((x, p) => x + (p.volume ?? 0) * p.quantity * i.quantity, 0), 0);
    out.push({
      event_id: `ev-${uuid(r)}`,
      event_type: "ORDER_CREATED",
      event_timestamp: stamp(at),
      order_id: `ord-${uuid(r)}`,
      order_details: {
        customer_id: `cust-${Math.floor(r() * 5000)}`,
        order_timestamp: stamp(at - 500),
        order_date: stamp(at).slice(0, 10),
        items,
        total_amount: round2(items.reduce((s, i) => s + i.price * i.quantity, 0)),
        total_volume: round2(volume),
        total_weight: round2(weight),
        status: "RECEIVED",
        destination_address: {
          address_id: `addr-${Math.floor(r() * 100000)}`,
          neighborhood: pick(["Centro", "Eixample", "Triana", "Ensanche", "Ruzafa"]),
          road: pick(STREETS),
          house_number: String(1 + Math.floor(r() * 200)),
          suburb: null,
          city_district: city,
          state,
          postcode,
          country: "España",
          coordinates: [lat, lon],
          lat,
          lon,
        },
        payment_details: { payment_method: pick(["card", "paypal", "bizum"]), payment_status: "PAID", transaction_id: `tx-${uuid(r)}` },
      },
    });
  }
  return out;
}

/** A package_table for the generator's package groups, with `stock` units each. */
export function generatePackages(stock: number | ((i: number) => number) = 1000): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  let i = 0;
  for (const id of PACKAGE_IDS) {
    for (const sub of SUBPACKAGES) {
      rows.push({
        package_id: id, subpackage_id: sub, name: `Caja ${id.slice(4)}-${sub}`, width: 10 * sub, height: 20, length: 30,
        weight: 0.25 * sub, volume: 6000 * sub, stock_quantity: typeof stock === "number" ? stock : stock(i),
      });
      i++;
    }
  }
  return rows;
}
