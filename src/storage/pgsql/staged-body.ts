// Staged bodies of the pgsql store (UserStore.stageBody): one body row shared by the recipients of
// one LMTP message, as SQLite hard-links one body file into each recipient's home.
//
// Nothing is written ahead: a body row that no message refers to by COMMIT is deleted then
// (migrations/0001-init.sql body_unused), so the first recipient's append writes the body in its
// own transaction, and the share it handed to the others (stageBody's onWritten) then names that
// row. Another recipient's append refers to the same row when it exists by then; when it does not
// (the first append has not committed yet, failed, or its message is already gone), it writes
// its own copy. Sharing saves space; it is never needed for correctness.
import type { SharedBody, SpooledContent, StagedBody } from '../types.js';

/** What one recipient's store hands the others: the body row, once an append committed it. */
export class PgsqlBodyShare implements SharedBody {
  /** The committed body row, null until then. */
  bodyId: number | null = null;
  // The bytes are durable with the append that writes them (synchronous_commit on): nothing to wait for.
  readonly durable = Promise.resolve();

  constructor(
    /** The database the row is in (host, port and name: another database's ids mean nothing here). */
    readonly database: string,
  ) {}
}

export class PgsqlStagedBody implements StagedBody {
  readonly kind = 'staged' as const;
  readonly durable = Promise.resolve();
  /** A committed append holds it (it cannot be appended again). */
  used = false;
  /** The share it came with failed (the row went meanwhile): write its own copy. */
  noShare = false;

  constructor(
    /** The store that staged it (only that one may append it). */
    readonly owner: object,
    readonly content: Buffer | SpooledContent,
    readonly size: number,
    /** Told to the other recipients: this body's row once appended. */
    readonly share: PgsqlBodyShare,
    /** Another recipient's share, to refer to instead of writing the bytes again. */
    readonly linkFrom: PgsqlBodyShare | undefined,
  ) {}

  async discard(): Promise<void> {
    // Nothing was written ahead; a committed append's body goes with its message.
  }
}
