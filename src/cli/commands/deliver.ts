// `roost deliver -u USER [-m MAILBOX] [-f FROM]`: reads a message on stdin and delivers it through
// the same path as LMTP (like dovecot-lda), with exit codes an MTA understands.
import { runDeliver } from '../deliver.js';
import type { CliEnv } from '../cli-context.js';

export async function runDeliverVerb(env: CliEnv, argv: string[]): Promise<number> {
  const ctx = await env.mailContext();
  return runDeliver(ctx, argv, env.io.stdin(), (line) => env.io.err(`${line}\n`));
}
