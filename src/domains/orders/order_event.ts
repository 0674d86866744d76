import * as v from "valibot";
import { compileCheck } from "./fast_check.ts";
import { stringMicros } from "../../core/values/timestamp.ts";

/** `YYYY-MM-DD HH:MM:SS` as the publisher writes it; ISO-8601 with `T`, fractions and a zone also pass. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The largest value of a Delta `integer` (32-bit) column. */
export const INT32_MAX = 2_147_483_647;
const INT32_MIN = -2_147_483_648;

const str = v.nullish(v.string());
/** A double column: JSON's `1e309` parses as Infinity, which no table can hold. */
const num = v.nullish(v.pipe(v.number(), v.check((n: number) => Number.isFinite(n), "expected a finite number (not ±Infinity)")));
/** An integer column (32 bits). */
const int = v.nullish(v.pipe(
  v.number(),
  v.integer("expected an integer"),
  v.check((n) => n >= INT32_MIN && n <= INT32_MAX, `expected a 32-bit integer, from ${INT32_MIN} to ${INT32_MAX}`),
));
/** A quantity: what stock is taken by, so never zero or negative (a negative one would add stock). */
const quantity = v.nullish(v.pipe(
  v.number(),
  v.integer("expected an integer quantity"),
  v.check((n) => n > 0 && n <= INT32_MAX, `expected a quantity from 1 to ${INT32_MAX}`),
));
const timestamp = v.nullish(v.pipe(
  v.string(),
  v.regex(TIMESTAMP, "expected a timestamp 'YYYY-MM-DD HH:MM:SS'"),
  v.check((s) => stringMicros(s) !== undefined, "expected a timestamp that exists (a real day and time)"),
));
const required = (what: string) => v.pipe(v.string(`expected ${what} as a string`), v.nonEmpty(`expected a non-empty ${what}`));

const PackageSchema = v.object({
  package_id: str,
  subpackage_id: int,
  quantity,
  weight: num,
  volume: num,
});

const ItemSchema = v.object({
  product_id: str,
  product_name: str,
  price: num,
  quantity,
  packages: v.nullish(v.array(v.nullable(PackageSchema))),
});

/**
 * The order event the publisher puts on the stream (DOMAIN.md). Every field may be null
 * or missing, as in the original job's schema, except the three that identify the event
 * and the order: `event_id`, `event_type` and `order_id`. Extra fields are ignored.
 */
export const OrderEventSchema = v.object({
  event_id: required("event_id"),
  event_type: required("event_type"),
  event_timestamp: timestamp,
  order_id: required("order_id"),
  order_details: v.nullish(v.object({
    customer_id: str,
    order_timestamp: timestamp,
    order_date: v.nullish(v.pipe(v.string(), v.regex(DATE, "expected a date 'YYYY-MM-DD'"))),
    items: v.nullish(v.array(v.nullable(ItemSchema))),
    total_amount: num,
    total_volume: num,
    total_weight: num,
    status: str,
    destination_address: v.nullish(v.object({
      address_id: str,
      neighborhood: str,
      road: str,
      house_number: str,
      suburb: str,
      city_district: str,
      state: str,
      postcode: str,
      country: str,
      coordinates: v.nullish(v.array(v.nullable(v.number()))),
      lat: num,
      lon: num,
    })),
    payment_details: v.nullish(v.object({
      payment_method: str,
      payment_status: str,
      transaction_id: str,
    })),
  })),
});

export type OrderEvent = v.InferOutput<typeof OrderEventSchema>;

/** Accepts the valid events without valibot's copying; valibot judges the rest. */
const fastCheck = compileCheck(OrderEventSchema);

export type Decoded = { ok: true; event: OrderEvent } | { ok: false; reason: string };

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes one record: UTF-8, then JSON, then the order event schema.
 * @returns the event, or the reason it was refused (for the quarantine table): where it
 *   failed and what was expected, e.g. `order_details.items.0.quantity: expected an integer`.
 */
export function decodeOrderEvent(data: Uint8Array): Decoded {
  if (data.length === 0) return { ok: false, reason: "empty record: expected a JSON order event" };
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    return { ok: false, reason: "not UTF-8: expected a JSON order event in UTF-8" };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON (${(err as Error).message}): expected a JSON order event` };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, reason: `expected a JSON object, got ${Array.isArray(json) ? "an array" : json === null ? "null" : typeof json}` };
  }
  // The object as parsed: the processors read only the schema's fields, so extra ones stay unseen.
  if (fastCheck?.(json)) return { ok: true, event: json as OrderEvent };
  const res = v.safeParse(OrderEventSchema, json);
  if (res.success) return { ok: true, event: res.output };
  const issue = res.issues[0];
  const path = v.getDotPath(issue) ?? "<root>";
  // A type mismatch's message already says what was received; a failed check's does not.
  return { ok: false, reason: issue.kind === "validation" ? `${path}: ${issue.message}: got ${describe(issue.input)}` : `${path}: ${issue.message}` };
}

/** A value as it appeared in the record, short enough for a reason column. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = typeof value === "number" && !Number.isFinite(value) ? String(value) : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
