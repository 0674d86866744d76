/** Errors of the Delta writer, each a class so callers never match on messages. @module */
import type { SchemaMismatch } from "../schema/schema_adoption.ts";

/** A commit could not be made because a concurrent commit changed what it relied on. */
export class CommitConflictError extends Error {
  override name = "CommitConflictError";
  constructor(message: string, readonly winningVersion: number, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A concurrent commit changed the table's metaData or protocol. */
export class MetadataChangedError extends CommitConflictError {
  override name = "MetadataChangedError";
}

/** A concurrent commit carried a `txn` for one of this commit's application ids. */
export class ConcurrentTransactionError extends CommitConflictError {
  override name = "ConcurrentTransactionError";
  constructor(message: string, winningVersion: number, readonly appId: string) {
    super(message, winningVersion);
  }
}

/** A concurrent commit removed a file that this rewrite read. */
export class ConcurrentDeleteReadError extends CommitConflictError {
  override name = "ConcurrentDeleteReadError";
  constructor(message: string, winningVersion: number, readonly path: string) {
    super(message, winningVersion);
  }
}

/**
 * Another writer created the commit version this one tried: its commits were read and did
 * not conflict, and the same actions go to the next version (the commit loop retries it).
 */
export class VersionRaceLostError extends Error {
  override name = "VersionRaceLostError";
  constructor(message: string, readonly lostVersion: number) {
    super(message);
  }
}

/** The table is missing, or is not a Delta table this library can read or write. */
export class TableError extends Error {
  override name = "TableError";
}

/** One table's part of a {@link SchemaMismatchError}. */
export interface TableMismatches {
  url: string;
  /** The table's name where the caller knows it. */
  table?: string;
  mismatches: readonly SchemaMismatch[];
}

/**
 * Existing tables whose schemas cannot take what is written into them without losing data:
 * each mismatch names the column, the table's type (`found`) and what is written
 * (`expected`). Only the `missing` ones (produced columns a table lacks) can be fixed by
 * schema evolution.
 */
export class SchemaMismatchError extends TableError {
  override name = "SchemaMismatchError";
  constructor(readonly tables: readonly TableMismatches[]) {
    super(
      tables.map((t) =>
        `the ${t.table !== undefined ? `${t.table} table` : "table"} at ${t.url} exists with a schema that cannot take what is written into it without losing data:\n` +
        t.mismatches.map((m) => `  - ${m.column}: found ${m.found}, expected ${m.expected} (${m.reason})`).join("\n")
      ).join("\n"),
    );
  }

  /** Every mismatch, of every table. */
  get mismatches(): SchemaMismatch[] {
    return this.tables.flatMap((t) => t.mismatches);
  }

  /** The produced columns the tables lack (`table.column` when the table is named): what schema evolution would add. */
  get missing(): string[] {
    return this.tables.flatMap((t) => t.mismatches.filter((m) => m.missing).map((m) => (t.table !== undefined && this.tables.length > 1 ? `${t.table}.${m.column}` : m.column)));
  }
}
