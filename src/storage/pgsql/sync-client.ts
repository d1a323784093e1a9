// PostgreSQL for a thread that must block: a Lua worker runs Lua code on its stack, so its
// event loop cannot turn while a storage call waits (Lua's storage calls are synchronous). The
// statements run on a helper thread (sync-worker.ts) and this thread sleeps in Atomics.wait
// until the answer is there: the pattern of the Lua HTTP and hash helpers.
//
// Storage may not import from the Lua layer, so the helper thread comes in from the caller: a
// src/lua/blocking-helper.ts BlockingHelperThread started on sync-worker.ts's compiled module,
//   new PgsqlBlockingClient(connect, new BlockingHelperThread(compiledModuleUrl('storage/pgsql/sync-worker.js')))
// (the worker entry must be compiled: `npm run build`, or the jest globalSetup's list).
import { StorageError, type StorageErrorCode } from '../types.js';
import type { PgsqlSyncReply, PgsqlSyncRequest, PgsqlSyncStatement } from './sync-protocol.js';

/** How long a blocked caller waits for PostgreSQL before it gives up. */
export const DEFAULT_SYNC_WAIT_LIMIT_MS = 30_000;

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** What BlockingHelperThread offers (src/lua/blocking-helper.ts). */
export interface BlockingCaller {
  call(req: WithoutId<PgsqlSyncRequest>, waitLimitMs: number): PgsqlSyncReply | null;
  close(): void;
}

/** An error from PostgreSQL seen through the bridge: its SQLSTATE is kept. */
export class PgsqlSyncError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'PgsqlSyncError';
  }
}

export class PgsqlBlockingClient {
  constructor(
    private readonly connect: string,
    private readonly helper: BlockingCaller,
    private readonly waitLimitMs = DEFAULT_SYNC_WAIT_LIMIT_MS,
  ) {}

  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): R[] {
    return this.call({ op: 'query', connect: this.connect, statement: { sql, params } }).rows as R[];
  }

  /** The statements in order in one transaction; the rows of each. */
  transaction(statements: PgsqlSyncStatement[]): Record<string, unknown>[][] {
    return this.call({ op: 'transaction', connect: this.connect, statements }).results!;
  }

  /** `length` bytes of body `bodyId` at `offset`; EXPUNGEISSUED once it is gone. */
  readBody(bodyId: number, offset: number, length: number): Buffer {
    const data = this.call({ op: 'readBody', connect: this.connect, bodyId, offset, length }).data!;
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  close(): void {
    this.helper.close();
  }

  private call(req: WithoutId<PgsqlSyncRequest>): Extract<PgsqlSyncReply, { ok: true }> {
    const reply = this.helper.call(req, this.waitLimitMs);
    if (!reply) throw new StorageError('SERVERBUG', `PostgreSQL did not answer within ${this.waitLimitMs} ms`);
    if (reply.ok) return reply;
    if (reply.error.storageCode) throw new StorageError(reply.error.storageCode as StorageErrorCode, reply.error.message);
    throw new PgsqlSyncError(reply.error.message, reply.error.sqlState);
  }
}
