// `roost serve`: IMAP and LMTP listeners from the configuration, and the auth and quota-status
// services when their listeners are configured, until SIGINT/SIGTERM.
import { authServerConfigured, startAuthServer } from '../../auth-server/server.js';
import { startImapServer } from '../../imap/server.js';
import { startLmtpServer } from '../../lmtp/server.js';
import { logHub, rootLogger } from '../../log/logger.js';
import { quotaStatusConfigured, startQuotaStatusServer } from '../../quota-status/server.js';
import { parseArgs } from '../args.js';
import type { CliEnv } from '../cli-context.js';

export async function runServe(env: CliEnv, argv: string[]): Promise<number> {
  parseArgs(argv, []);
  const settings = env.settings;
  logHub.debug = settings.mail_debug;
  logHub.setLogPaths(settings);
  for (const w of env.warnings) rootLogger.warning(w);
  const ctx = await env.mailContext();
  // A broken auth script stops the server, as it stops Dovecot's auth process.
  await ctx.auth.init();
  const closers: (() => Promise<void>)[] = [];
  const protocols = new Set(settings.protocols);
  try {
    if (protocols.has('imap')) {
      const imap = await startImapServer(ctx);
      closers.push(() => imap.close());
      for (const l of imap.listeners) env.io.out(`roost: IMAP${l.ssl ? 'S' : ''} listening on ${l.address}:${l.boundPort}\n`);
    }
    if (protocols.has('lmtp')) {
      const lmtp = await startLmtpServer(ctx);
      closers.push(() => lmtp.close());
      for (const a of lmtp.addresses) env.io.out(`roost: LMTP listening on ${'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`}\n`);
    }
    // Dovecot runs these services whatever `protocols` says; Roost starts them when listeners exist.
    if (authServerConfigured(settings)) {
      const auth = await startAuthServer(ctx);
      closers.push(() => auth.close());
      for (const a of auth.addresses) env.io.out(`roost: auth listening on ${'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`}\n`);
    }
    if (quotaStatusConfigured(settings)) {
      const qs = await startQuotaStatusServer(ctx);
      closers.push(() => qs.close());
      for (const a of qs.addresses) env.io.out(`roost: quota-status listening on ${'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`}\n`);
    }
  } catch (err) {
    // A listener that cannot bind (EADDRINUSE) stops the server: close the ones already open,
    // or they would keep the process running with half the service and no error exit.
    for (const close of closers.reverse()) await close();
    throw err;
  }
  env.io.out(`roost: data under ${settings.data_dir}\n`);
  if (ctx.serverDb.listUsers().length === 0) {
    env.io.out('roost: no users yet; add the first one with:  npm run roost -- user add alice -p secret\n');
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  env.io.out('roost: shutting down\n');
  for (const close of closers.reverse()) await close();
  return 0;
}
