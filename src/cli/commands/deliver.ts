// `roost deliver -u USER [-m MAILBOX] [-f FROM]`: reads a message on stdin and delivers it through
// the same path as LMTP (like dovecot-lda), with exit codes an MTA understands.
import { logHub } from '../../log/logger.js';
import { runDeliver } from '../deliver.js';
import type { CliEnv } from '../cli-context.js';

export async function runDeliverVerb(env: CliEnv, argv: string[]): Promise<number> {
  // dovecot-lda logs what it did (`saved mail to INBOX`, a missing -m mailbox) to the log; so
  // does deliver, to log_path (stderr by default), while its own errors stay on stderr.
  logHub.setLogPaths(env.settings);
  logHub.setDefaultOutput(true);
  const ctx = await env.mailContext();
  return runDeliver(ctx, argv, env.io.stdin(), (line) => env.io.err(`${line}\n`));
}
