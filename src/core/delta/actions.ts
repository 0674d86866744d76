/**
 * Delta log actions, as the protocol writes them one per line in a commit file.
 * @module
 */

export interface Protocol {
  minReaderVersion: number;
  minWriterVersion: number;
  /** Table features readers must support (reader version 3 only). */
  readerFeatures?: string[] | null;
  /** Table features writers must support (writer version 7 only). */
  writerFeatures?: string[] | null;
}

export interface Format {
  provider: string;
  options: Record<string, string>;
}

export interface Metadata {
  id: string;
  name?: string | null;
  description?: string | null;
  format: Format;
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime?: number | null;
}

export interface Add {
  /** Relative, URI-encoded path of the data file (or an absolute URI). */
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: unknown;
  /** Row tracking: the id of the file's first row (the others follow in file order). */
  baseRowId?: number | null;
  /** Row tracking: the version that committed the file (its rows' commit version unless materialized). */
  defaultRowCommitVersion?: number | null;
}

export interface Remove {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean;
  partitionValues?: Record<string, string | null> | null;
  size?: number | null;
  /** Spark (3.x/4.x) writes `{"numRecords":n}` here on rewrites. */
  stats?: string | null;
  tags?: Record<string, string> | null;
  /** The deletion vector of the file removed, when it had one (the file is `path` with it). */
  deletionVector?: unknown;
}

export interface Txn {
  appId: string;
  version: number;
  lastUpdated?: number | null;
}

export type CommitInfo = Record<string, unknown>;

/** One line of a commit file. Keys other than these are kept but ignored. */
export interface Action {
  protocol?: Protocol;
  metaData?: Metadata;
  add?: Add;
  remove?: Remove;
  txn?: Txn;
  commitInfo?: CommitInfo;
  cdc?: unknown;
  domainMetadata?: DomainMetadata;
}

/** A domain's configuration (the `domainMetadata` feature): the latest action per domain holds. */
export interface DomainMetadata {
  domain: string;
  /** The domain's own configuration, as a string (JSON for the delta.* domains). */
  configuration: string;
  /** The domain was removed. */
  removed: boolean;
}

/** Serialises actions as a commit file: one JSON object per line. */
export function encodeCommit(actions: readonly Action[]): Uint8Array {
  return new TextEncoder().encode(actions.map((a) => JSON.stringify(a)).join("\n") + "\n");
}

/** Parses a commit file. @throws {SyntaxError} naming the line that is not JSON. */
export function decodeCommit(bytes: Uint8Array, name = "commit"): Action[] {
  const out: Action[] = [];
  const lines = new TextDecoder().decode(bytes).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as Action);
    } catch (err) {
      throw new SyntaxError(`${name}: line ${i + 1} is not a JSON action`, { cause: err });
    }
  }
  return out;
}
