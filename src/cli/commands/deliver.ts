// `roost deliver -u USER [-m MAILBOX] [-f FROM]`: reads a message on stdin and delivers it through
// the same path as LMTP (like dovecot-lda), with exit codes an MTA understands.
import { AdminConnectError, AdminError, adminHoldRequest, adminSocketPath } from '../../admin/socket.js';
import { logHub } from '../../log/logger.js';
import { runDeliver, type ServerHold } from '../deliver.js';
import type { CliEnv } from '../cli-context.js';

/**
 * One round trip on the admin socket (`deliver-lock`), so a `roost restore` by the running
 * server never overwrites this delivery: the server either refuses (the user is held for a
 * restore) or counts the delivery as in progress until this process disconnects.
 */
async function askServer(env: CliEnv, username: string): Promise<ServerHold> {
  const path = adminSocketPath(env.settings.base_dir);
  try {
    const held = await adminHoldRequest(path, { cmd: 'deliver-lock', args: [username] });
    return { kind: 'held', release: held.release };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof AdminConnectError) {
      // No server (no socket, or a stale one of a server that died): nothing to hold.
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') return { kind: 'none' };
      // A server runs but cannot be asked (e.g. EACCES: deliver runs as another user than the
      // server): deliver as before rather than defer every message until it bounces.
      return { kind: 'none', warning: `cannot ask the running server for a delivery hold (${message}); delivering without it` };
    }
    // A server from before deliver-lock: deliver as before, and say so.
    if (err instanceof AdminError && message === 'Unknown command: deliver-lock') {
      return { kind: 'none', warning: 'the running server does not know deliver-lock (older version); delivering without a hold, so a concurrent roost restore may overwrite this message' };
    }
    // Refused (the user is held for a restore), or the server broke off: the MTA retries later.
    return { kind: 'refused', reason: message };
  }
}

export async function runDeliverVerb(env: CliEnv, argv: string[]): Promise<number> {
  // dovecot-lda logs what it did (`saved mail to INBOX`, a missing -m mailbox) to the log; so
  // does deliver, to log_path (stderr by default), while its own errors stay on stderr.
  logHub.setLogPaths(env.settings);
  logHub.setDefaultOutput(true);
  const ctx = await env.mailContext();
  return runDeliver(ctx, argv, env.io.stdin(), (line) => env.io.err(`${line}\n`), (username) => askServer(env, username));
}
