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
  const result = await deliver(ctx, {
    username: found.user,
    userdbFields: found.fields,
    service: 'lda',
    mailbox,
    message: prepareMessage(content),
  });
  if (result.ok) return EX_OK;
  stderr(`roost: ${result.failure.text}`);
  return result.failure.temporary ? EX_TEMPFAIL : EX_NOPERM;
}
