import { ConfigError, type Settings, tableLocations } from "../config/settings.ts";
import { declaredDomain } from "../domains/declared/declared_domain.ts";
import { loadTablesFile, resolveLocations, TablesFileError } from "../domains/declared/tables_file.ts";
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
 * The one place that chooses a domain: with a tables file (`--tables`, `TABLES_FILE`), the
 * tables it declares; otherwise the order domain of the original job, laid out as its
 * tables were.
 * @throws {ConfigError} when the tables file cannot be read or declares no valid tables.
 */
export async function chooseDomain(settings: Settings): Promise<DomainChoice> {
  if (settings.tablesFile) {
    try {
      const file = await loadTablesFile(settings.tablesFile);
      return { domain: declaredDomain(file), locations: resolveLocations(file, settings.tablesRoot) };
    } catch (err) {
      throw err instanceof TablesFileError ? new ConfigError(`Cannot start: ${err.message}`, { cause: err }) : err;
    }
  }
  return { domain: orderDomain(), locations: tableLocations(settings) };
}
