// Messages between a thread that must block (a Lua worker: Lua's storage calls are synchronous)
// and its pgsql helper thread (sync-worker.ts). See sync-client.ts.

export interface PgsqlSyncStatement {
  sql: string;
  params?: unknown[];
}

export type PgsqlSyncRequest =
  | { id: number; op: 'query'; connect: string; statement: PgsqlSyncStatement }
  /** The statements in order, in one transaction (all or nothing). */
  | { id: number; op: 'transaction'; connect: string; statements: PgsqlSyncStatement[] }
  /** `length` bytes of a stored body at `offset` (bodies.ts openBody/read). */
  | { id: number; op: 'readBody'; connect: string; bodyId: number; offset: number; length: number };

export interface PgsqlSyncError {
  message: string;
  /** StorageError's code, when it was one. */
  storageCode?: string;
  /** PostgreSQL's SQLSTATE (or a socket error code). */
  sqlState?: string;
}

export type PgsqlSyncReply =
  | { id: number; ok: true; rows?: Record<string, unknown>[]; results?: Record<string, unknown>[][]; data?: Uint8Array }
  | { id: number; ok: false; error: PgsqlSyncError };
