/**
 * Parses the INI format of the original job's `.aws/config`: `[section]` headers and
 * `KEY = value` or `KEY: value` lines (as Python's configparser reads them: the first `=` or
 * `:` ends the key); `#` and `;` start comments. Section and key names are kept as
 * written; look-ups are case-insensitive through {@link iniGet}.
 * @throws {SyntaxError} naming the line that is neither.
 */
export function parseIni(text: string, source = "config"): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = "default";
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      out[section] ??= {};
      continue;
    }
    const eq = line.search(/[=:]/);
    if (eq <= 0) throw new SyntaxError(`${source}:${i + 1}: expected 'KEY = value', 'KEY: value' or '[section]', got '${line}'`);
    (out[section] ??= {})[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** A value by section and key, both case-insensitive. */
export function iniGet(ini: Record<string, Record<string, string>>, section: string, key: string): string | undefined {
  const s = Object.entries(ini).find(([name]) => name.toLowerCase() === section.toLowerCase())?.[1];
  if (!s) return undefined;
  return Object.entries(s).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
}
