// What the IMAP benches share for the server they run in a child process (so that its CPU and
// memory are measured alone): the context on a temp data folder, without TLS, login delay or
// per-IP limit, and the IMAP listener on a free loopback port. Loaded in the child only.
import { createServerContext, type CreatedContext } from '../src/cli/context.js';
import { defaultSettings, type Settings } from '../src/config/index.js';
import { startImapServer, type ImapServer } from '../src/imap/server.js';
import { logHub } from '../src/log/logger.js';

export async function startBenchServer(
  dataDir: string,
  tweak: (s: Settings) => void = () => undefined,
  prepare: (ctx: CreatedContext) => Promise<void> | void = () => undefined,
): Promise<{ ctx: CreatedContext; server: ImapServer }> {
  logHub.setDefaultOutput(false);
  const settings = defaultSettings();
  settings.data_dir = dataDir;
  settings.mail_home = `${dataDir}/home/%d/%n`;
  settings.auth_failure_delay = 0;
  settings.mail_max_userip_connections = 0;
  settings.ssl = 'no';
  tweak(settings);
  const ctx = createServerContext(settings);
  await prepare(ctx);
  const server = await startImapServer(ctx, { listeners: [{ name: 'imap', address: '127.0.0.1', port: 0, ssl: false }] });
  return { ctx, server };
}
