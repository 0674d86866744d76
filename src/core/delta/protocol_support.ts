/**
 * What a table's protocol asks of readers and writers, as table features, and which of them
 * the maintenance commands (`tables vacuum`, `tables optimize`) understand.
 *
 * A protocol names its features in `readerFeatures` / `writerFeatures` (reader version 3,
 * writer version 7), or implies them by its legacy versions (PROTOCOL.md, "Writer Version
 * Requirements" and "Reader Version Requirements"): writer 2 appendOnly and invariants, 3
 * checkConstraints, 4 changeDataFeed and generatedColumns, 5 columnMapping, 6
 * identityColumns; reader 2 columnMapping.
 * @module
 */
import type { Metadata, Protocol } from "./actions.ts";

/** The features a protocol enables, reader and writer, by name (legacy versions included). */
export function protocolFeatures(p: Protocol): { reader: string[]; writer: string[] } {
  const reader = p.minReaderVersion >= 3 ? [...(p.readerFeatures ?? [])] : p.minReaderVersion === 2 ? ["columnMapping"] : [];
  let writer: string[];
  if (p.minWriterVersion >= 7) writer = [...(p.writerFeatures ?? [])];
  else {
    const legacy: [number, string][] = [
      [2, "appendOnly"], [2, "invariants"], [3, "checkConstraints"], [4, "changeDataFeed"], [4, "generatedColumns"],
      [5, "columnMapping"], [6, "identityColumns"],
    ];
    writer = legacy.filter(([v]) => p.minWriterVersion >= v).map(([, name]) => name);
  }
  return { reader, writer };
}

/**
 * The features `tables vacuum` understands, and why each is safe for it. Vacuum writes two
 * commits that hold only a commitInfo (no data, no schema, no protocol change) and deletes
 * files that no version within the retention references; so a feature is understood here
 * when it puts no file in the table's folder that the `add` and `remove` actions do not name
 * (or puts them where vacuum never looks), and asks nothing of a commit without data.
 *
 * Not understood, so refused: `deletionVectors` (DV files in the table's root are named only
 * inside the descriptors of `add` actions), `v2Checkpoint` (sidecar files, checkpoints this
 * library cannot read), `domainMetadata`, `rowTracking` and `clustering` (domain metadata a
 * checkpoint written here would drop), `inCommitTimestamp` (every commit must carry one),
 * `icebergCompatV1`/`V2` (Iceberg metadata in `metadata/`), `checkpointProtection`,
 * `catalogManaged`, and every name not in this list.
 */
export const VACUUM_FEATURES: ReadonlyMap<string, string> = new Map([
  ["appendOnly", "vacuum removes no file from the table's state"],
  ["invariants", "vacuum writes no data"],
  ["checkConstraints", "vacuum writes no data"],
  ["generatedColumns", "vacuum writes no data"],
  ["identityColumns", "vacuum writes no data"],
  ["allowColumnDefaults", "vacuum writes no data"],
  ["columnMapping", "data files are named by add actions as always; vacuum changes no schema"],
  ["timestampNtz", "vacuum writes no data"],
  ["typeWidening", "vacuum changes no schema"],
  ["typeWidening-preview", "vacuum changes no schema"],
  ["variantType", "vacuum writes no data"],
  ["variantType-preview", "vacuum writes no data"],
  ["changeDataFeed", "vacuum never lists or deletes anything under _change_data/"],
  ["vacuumProtocolCheck", "vacuum checks the whole write protocol (this check) before it deletes anything"],
]);

/**
 * The features of `p`, reader's and writer's, that `tables vacuum` does not understand,
 * sorted; empty when it may vacuum the table. Per the `vacuumProtocolCheck` feature, vacuum
 * checks the writer protocol of every table, whether or not the feature is enabled.
 */
export function unsupportedForVacuum(p: Protocol): string[] {
  const { reader, writer } = protocolFeatures(p);
  const unknown = new Set<string>();
  for (const f of [...reader, ...writer]) if (!VACUUM_FEATURES.has(f)) unknown.add(f);
  if (p.minReaderVersion > 3) unknown.add(`reader version ${p.minReaderVersion}`);
  if (p.minWriterVersion > 7) unknown.add(`writer version ${p.minWriterVersion}`);
  return [...unknown].sort();
}

/**
 * The features `tables optimize` (and auto-compaction) understands, and why each is safe for
 * it. OPTIMIZE reads every row of some live files by column name and writes them again,
 * unchanged, into new files it names in `add` actions with `dataChange` false, removing the
 * old ones; so a feature is understood when files read that way hold every row of the table
 * as the log says, and writing the same rows again under the same schema satisfies it.
 *
 * Not understood, so refused: `columnMapping` (columns are stored under physical names),
 * `deletionVectors` (rows of a file may be deleted), `timestampNtz`, `variantType` and
 * `typeWidening` (types this writer does not write, or files of older types), `rowTracking`
 * (row ids and commit versions must be kept through a rewrite), `domainMetadata`,
 * `clustering`, `v2Checkpoint`, `inCommitTimestamp`, `icebergCompat*`,
 * `checkpointProtection`, `catalogManaged`, and every name not in this list.
 */
export const OPTIMIZE_FEATURES: ReadonlyMap<string, string> = new Map([
  ["appendOnly", "OPTIMIZE only rearranges data (dataChange false), which PROTOCOL.md allows in append-only tables"],
  ["invariants", "the rows written are the rows read, which met the invariants"],
  ["checkConstraints", "the rows written are the rows read, which met the constraints"],
  ["generatedColumns", "the rows written are the rows read, generated values included"],
  ["identityColumns", "the rows written are the rows read; no identity value is made"],
  ["allowColumnDefaults", "no row is made, so no default is applied"],
  ["changeDataFeed", "a dataChange=false rewrite has no change data (Spark writes no cdc files for OPTIMIZE)"],
  ["vacuumProtocolCheck", "it concerns vacuum only"],
]);

/** The features of `p` that `tables optimize` does not understand, sorted; empty when it may compact the table. */
export function unsupportedForOptimize(p: Protocol): string[] {
  const { reader, writer } = protocolFeatures(p);
  const unknown = new Set<string>();
  for (const f of [...reader, ...writer]) if (!OPTIMIZE_FEATURES.has(f)) unknown.add(f);
  if (p.minReaderVersion > 3) unknown.add(`reader version ${p.minReaderVersion}`);
  if (p.minWriterVersion > 7) unknown.add(`writer version ${p.minWriterVersion}`);
  return [...unknown].sort();
}

/**
 * The table features this library's writes (appends, the package_table MERGE, checkpoints)
 * understand, and on what condition each is safe. Writes never change a table's protocol,
 * so a feature is understood when honouring it asks nothing of a write that is not done
 * here, or when the table does not use what it would ask for (checked by
 * {@link unsupportedForWrite} against the table's metadata).
 *
 * Not understood, so refused (naming them): `clustering`,
 * `allowColumnDefaults`, `typeWidening`, `variantType`, `icebergCompat*`,
 * `checkpointProtection`, `catalogManaged`, and every name not in this list.
 */
export const WRITE_FEATURES: ReadonlyMap<string, string> = new Map([
  ["appendOnly", "a commit that removes files (the package_table MERGE) is refused while delta.appendOnly is true"],
  ["invariants", "no column of the table may declare an invariant (delta.invariants): its SQL is not evaluated here"],
  ["checkConstraints", "the table may have no CHECK constraint (delta.constraints.*): its SQL is not evaluated here"],
  ["generatedColumns", "no column may be generated (delta.generationExpression): its value is not computed here"],
  ["identityColumns", "no column may be an identity column (delta.identity.*): its values are not assigned here"],
  ["changeDataFeed", "delta.enableChangeDataFeed may not be true: a MERGE would owe change data files"],
  ["timestampNtz", "timestamp_ntz columns are written zoneless (Parquet isAdjustedToUTC false), with null counts only in their stats"],
  ["vacuumProtocolCheck", "it concerns vacuum only"],
  ["deletionVectors", "appends add no vector; a rewrite reads a file without its deleted rows and removes the file with its vector"],
  ["inCommitTimestamp", "every commit's commitInfo comes first with an inCommitTimestamp after the previous commit's"],
  ["domainMetadata", "the table's domains are kept in checkpoints; a write changes none but row tracking's"],
  ["rowTracking", "appends get base row ids and commit versions, and move the high-water mark; a rewrite keeps row ids in the materialized columns"],
  ["columnMapping", "in name mode files, stats and partition values use the physical names, new columns get ids; id mode is refused"],
  ["v2Checkpoint", "UUID-named checkpoints and their sidecars are read; checkpoints are written classic-named in the V2 spec"],
]);

/** Reader features a write understands (reads of package_table, of the log and checkpoints). */
const WRITE_READER_FEATURES = new Set(["timestampNtz", "vacuumProtocolCheck", "deletionVectors", "columnMapping", "v2Checkpoint"]);

/**
 * Why this library may not write into a table of protocol `p` and metadata `m`: each
 * feature it does not understand, and each use of an understood feature it cannot honour
 * (naming the column, constraint or property). Empty when it may write.
 */
export function unsupportedForWrite(p: Protocol, m?: Metadata): string[] {
  const { reader, writer } = protocolFeatures(p);
  const out = new Set<string>();
  if (p.minReaderVersion > 3) out.add(`reader version ${p.minReaderVersion}`);
  if (p.minWriterVersion > 7) out.add(`writer version ${p.minWriterVersion}`);
  for (const f of reader) if (!WRITE_READER_FEATURES.has(f)) out.add(`reader feature ${f}`);
  for (const f of writer) if (!WRITE_FEATURES.has(f)) out.add(`writer feature ${f}`);
  if (!m) return [...out];
  const config = m.configuration ?? {};
  const constraints = Object.keys(config).filter((k) => k.startsWith("delta.constraints."));
  if (constraints.length > 0) out.add(`CHECK constraints ${constraints.map((k) => `${k.slice("delta.constraints.".length)} (${config[k]})`).join(", ")}`);
  if ((config["delta.enableChangeDataFeed"] ?? "").toLowerCase() === "true") out.add("the change data feed (delta.enableChangeDataFeed is true)");
  const mapping = (config["delta.columnMapping.mode"] ?? "none").toLowerCase();
  if (mapping !== "none" && mapping !== "name") out.add(`column mapping in ${mapping} mode (delta.columnMapping.mode; name mode is written)`);
  let fields: { name: string; metadata?: Record<string, unknown> }[] = [];
  try {
    fields = leafFields(JSON.parse(m.schemaString) as SchemaJson, "");
  } catch {
    // A schema this library cannot parse is refused by the schema check, naming the column.
  }
  for (const f of fields) {
    const meta = f.metadata ?? {};
    if ("delta.invariants" in meta) out.add(`the invariant on column ${f.name} (${String(meta["delta.invariants"])})`);
    if ("delta.generationExpression" in meta) out.add(`generated column ${f.name} (${String(meta["delta.generationExpression"])})`);
    if (Object.keys(meta).some((k) => k.startsWith("delta.identity."))) out.add(`identity column ${f.name}`);
  }
  return [...out];
}

interface SchemaJson {
  type?: unknown;
  fields?: { name: string; type: unknown; metadata?: Record<string, unknown> }[];
}

/** Every field of a schema JSON, nested structs' fields named with dots. */
function leafFields(s: SchemaJson, prefix: string): { name: string; metadata?: Record<string, unknown> }[] {
  const out: { name: string; metadata?: Record<string, unknown> }[] = [];
  for (const f of s.fields ?? []) {
    const name = `${prefix}${f.name}`;
    out.push({ name, ...(f.metadata ? { metadata: f.metadata } : {}) });
    if (typeof f.type === "object" && f.type !== null && (f.type as SchemaJson).type === "struct") out.push(...leafFields(f.type as SchemaJson, `${name}.`));
  }
  return out;
}
