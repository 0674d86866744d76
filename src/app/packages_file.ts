import { ConfigError } from "../config/settings.ts";

/**
 * Reads package rows from a JSON file (an array of objects, or JSON lines) or a CSV file
 * with a header row, for `tables init-packages`.
 * @throws {ConfigError} naming the file, the line and the column that is wrong.
 */
export function parsePackages(text: string, file: string): Record<string, unknown>[] {
  const trimmed = text.trim();
  let rows: Record<string, unknown>[];
  if (file.endsWith(".csv")) rows = parseCsv(trimmed, file);
  else if (trimmed.startsWith("[")) rows = JSON.parse(trimmed) as Record<string, unknown>[];
  else rows = trimmed.split(/\r?\n/).filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
  const ints = ["subpackage_id", "width", "height", "length", "volume", "stock_quantity"];
  return rows.map((r, i) => {
    const out: Record<string, unknown> = { ...r };
    for (const k of [...ints, "weight"]) {
      const v = r[k];
      if (v === undefined || v === null || v === "") {
        if (k === "stock_quantity") throw new ConfigError(`${file}: row ${i + 1} has no stock_quantity (required)`);
        out[k] = null;
        continue;
      }
      const n = Number(v);
      if (!Number.isFinite(n) || (ints.includes(k) && !Number.isInteger(n))) {
        throw new ConfigError(`${file}: row ${i + 1}: '${k}' must be ${ints.includes(k) ? "a whole number" : "a number"}: got '${String(v)}'`);
      }
      out[k] = n;
    }
    if (typeof out.package_id !== "string" || !out.package_id) throw new ConfigError(`${file}: row ${i + 1} has no package_id`);
    return out;
  });
}

function parseCsv(text: string, file: string): Record<string, unknown>[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = splitCsv(lines[0] ?? "");
  if (!header.includes("package_id")) throw new ConfigError(`${file}: the header row must name the columns (package_id, subpackage_id, …, stock_quantity)`);
  return lines.slice(1).map((line) => {
    const cells = splitCsv(line);
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ""]));
  });
}

function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") (out.push(cur.trim()), (cur = ""));
    else cur += c;
  }
  out.push(cur.trim());
  return out;
}
