import { type Settings, tableLocations } from "../config/settings.ts";
import { orderDomain } from "../domains/orders/order_domain.ts";
import type { Domain } from "../engine/domain.ts";

/** A domain and where each of its tables (and quarantine) lives. */
export interface DomainChoice {
  // deno-lint-ignore no-explicit-any
  domain: Domain<any, any>;
  /** Table name → URI (`s3://…` or a local folder). */
  locations: Record<string, string>;
}

/**
 * The one place that chooses a domain: the order domain of the original job, laid out as
 * its tables were.
 */
export function chooseDomain(settings: Settings): Promise<DomainChoice> {
  return Promise.resolve({ domain: orderDomain(), locations: tableLocations(settings) });
}
