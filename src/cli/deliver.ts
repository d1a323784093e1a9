// `roost deliver -u USER [-m MAILBOX] [-f FROM]`: dovecot-lda's role, for an MTA that pipes a
// message to a command. Reads the message from stdin, stores it through the delivery service
// LMTP uses, and answers with sysexits codes the MTA understands (sysexits.h).
import type { Readable } from 'node:stream';
import { settingsFor } from '../config/index.js';
import type { ServerContext } from '../mail-user/context.js';
import { deliver, prepareMessage, traceHeaders } from '../mail-user/delivery.js';
import { optionValue, parseArgs, UsageError } from './args.js';

export const EX_OK = 0;
export const EX_USAGE = 64;
export const EX_NOUSER = 67;
export const EX_TEMPFAIL = 75;
/** Permanent failure (e.g. over quota without quota_full_tempfail), as dovecot-lda -e returns. */
export const EX_NOPERM = 77;

const USAGE = 'Usage: roost deliver -u USER [-m MAILBOX] [-f FROM] < message';

/**
 * What a running server answered before the delivery (its `deliver-lock`, see serve.ts): `held`
 * counts this delivery as in progress on the server until `release`, so a `roost restore` of the
 * user waits for it; `refused` means the user is held for a restore (a temporary failure);
 * `none` means there is no server to ask (or it cannot answer), so the delivery goes on as it
 * always did, after `warning` if there is one.
 */
export type ServerHold =
  | { kind: 'held'; release(): Promise<void> }
  | { kind: 'refused'; reason: string }
  | { kind: 'none'; warning?: string };

export type AskServer = (username: string) => Promise<ServerHold>;

async function readAll(stdin: Readable, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (limit > 0 && size > limit) return null;
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}

/** mbox-style `From sender date` first line, which dovecot-lda drops (and takes the sender from). */
function stripMboxFrom(msg: Buffer): { body: Buffer; sender: string | null } {
  if (msg.subarray(0, 5).toString('latin1') !== 'From ') return { body: msg, sender: null };
  const nl = msg.indexOf(10);
  const line = msg.subarray(5, nl < 0 ? msg.length : nl).toString('utf8');
  return { body: nl < 0 ? Buffer.alloc(0) : msg.subarray(nl + 1), sender: line.split(/\s+/)[0] ?? null };
}

export async function runDeliver(
  ctx: ServerContext,
  argv: string[],
  stdin: Readable,
  stderr: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  askServer?: AskServer,
): Promise<number> {
  let username: string;
  let mailbox: string | undefined;
  let from: string | undefined;
  try {
    const args = parseArgs(argv, [
      { names: ['u', 'user'], value: true },
      { names: ['m', 'mailbox'], value: true },
      { names: ['f', 'from'], value: true },
    ]);
    if (args.positional.length > 0) throw new UsageError(`Unexpected argument: ${args.positional[0]}`);
    username = optionValue(args, 'u') ?? '';
    if (!username) throw new UsageError('Missing user (-u)');
    mailbox = optionValue(args, 'm');
    from = optionValue(args, 'f');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr(`roost: ${err.message}`);
    stderr(USAGE);
    return EX_USAGE;
  }

  const found = await ctx.auth.lookupUser(username, 'lda');
  if (!found.found) {
    if (found.reason === 'tempfail') {
      stderr(`roost: Temporary failure looking up user ${username}`);
      return EX_TEMPFAIL;
    }
    stderr(`roost: User doesn't exist: ${username}`);
    return EX_NOUSER;
  }

  const raw = await readAll(stdin, settingsFor(ctx.settings, 'lmtp').mail_max_message_size);
  if (!raw) {
    stderr('roost: Message size exceeds administrative limit');
    return EX_NOPERM;
  }
  const { body, sender } = stripMboxFrom(raw);
  const envelopeFrom = from ?? sender ?? 'MAILER-DAEMON';
  // dovecot-lda adds only Return-Path; Received and Delivered-To are the MTA's.
  const content = Buffer.concat([traceHeaders({ envelopeFrom, deliveryAddress: null }), body]);
  // Asked only now, with the whole message read: the hold covers the storing alone.
  const hold: ServerHold = askServer ? await askServer(found.user) : { kind: 'none' };
  if (hold.kind === 'refused') {
    stderr(`roost: Temporary failure: ${hold.reason}`);
    return EX_TEMPFAIL;
  }
  if (hold.kind === 'none' && hold.warning) stderr(`roost: Warning: ${hold.warning}`);
  let result: Awaited<ReturnType<typeof deliver>>;
  try {
    result = await deliver(ctx, {
      username: found.user,
      userdbFields: found.fields,
      service: 'lda',
      mailbox,
      message: prepareMessage(content),
    });
  } finally {
    if (hold.kind === 'held') await hold.release();
  }
  if (result.ok) return EX_OK;
  stderr(`roost: ${result.failure.text}`);
  return result.failure.temporary ? EX_TEMPFAIL : EX_NOPERM;
}
