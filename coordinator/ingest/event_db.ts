/**
 * The coordinator's SQLite event log file (`events.sqlite`): opening it with the WAL pragmas and
 * the schema of proto/sqlite_schema.ts, and promise wrappers over the sqlite3 package's callbacks.
 *
 * Invariant: the connection is in serialized mode, so statements run in the order they were
 * issued; a transaction is committed only after every statement in it succeeded (transaction()).
 */
import sqlite3 from "sqlite3";
import { SCHEMA_DDL, SCHEMA_VERSION, SQLITE_PRAGMAS } from "../../proto/sqlite_schema.js";

/** Any failure of the SQLite file: cannot open, disk full, corrupt. Ingest stops on it. */
export class EventDbError extends Error {
  override readonly name = "EventDbError";
}

export type SqlParam = string | number | bigint | null | Buffer;

export interface SqlStatement {
  sql: string;
  params: SqlParam[];
}

export class EventDb {
  private constructor(
    private readonly db: sqlite3.Database,
    readonly file: string,
  ) {}

  /** Opens (creating if needed) an event log file and brings its schema up. */
  static async open(file: string, options: { readOnly?: boolean } = {}): Promise<EventDb> {
    const mode = options.readOnly ? sqlite3.OPEN_READONLY : sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE;
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const handle = new sqlite3.Database(file, mode, (error) =>
        error ? reject(new EventDbError(`cannot open ${file}: ${error.message}`, { cause: error })) : resolve(handle),
      );
    });
    db.serialize();
    const eventDb = new EventDb(db, file);
    if (options.readOnly) {
      await eventDb.run("PRAGMA busy_timeout = 10000");
      return eventDb;
    }
    for (const pragma of SQLITE_PRAGMAS) await eventDb.run(pragma);
    await eventDb.transaction(SCHEMA_DDL.map((sql) => ({ sql, params: [] })));
    const version = await eventDb.get<{ value: string }>("SELECT value FROM schema_meta WHERE key = 'schema_version'");
    if (version?.value !== String(SCHEMA_VERSION)) {
      await eventDb.close();
      throw new EventDbError(
        `${file} has schema version ${version?.value ?? "none"}, this daxsim writes ${SCHEMA_VERSION}`,
      );
    }
    return eventDb;
  }

  run(sql: string, params: SqlParam[] = []): Promise<void> {
    return new Promise((resolve, reject) => {
      this.db.run(sql, params, (error) => (error ? reject(wrap(error, sql)) : resolve()));
    });
  }

  all<T>(sql: string, params: SqlParam[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.db.all<T>(sql, params, (error, rows) => (error ? reject(wrap(error, sql)) : resolve(rows)));
    });
  }

  get<T>(sql: string, params: SqlParam[] = []): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      this.db.get<T>(sql, params, (error, row) => (error ? reject(wrap(error, sql)) : resolve(row)));
    });
  }

  /**
   * Runs the statements as one transaction. They are all queued at once (serialized mode keeps
   * their order); COMMIT is issued only when each has succeeded, ROLLBACK otherwise.
   */
  async transaction(statements: readonly SqlStatement[]): Promise<void> {
    const begun = this.run("BEGIN IMMEDIATE");
    const done = statements.map((s) => this.run(s.sql, s.params));
    const outcomes = await Promise.allSettled([begun, ...done]);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed !== undefined) {
      await this.run("ROLLBACK").catch(() => undefined);
      throw failed.reason;
    }
    await this.run("COMMIT");
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.db.close((error) => (error ? reject(wrap(error, "close")) : resolve())),
    );
  }
}

function wrap(error: Error, sql: string): EventDbError {
  return new EventDbError(`${error.message} (in: ${sql.slice(0, 120)}${sql.length > 120 ? "…" : ""})`, {
    cause: error,
  });
}
