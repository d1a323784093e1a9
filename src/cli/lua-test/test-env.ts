// One test's world for `roost lua test`: its data folder (deleted afterwards), the server
// context and mail plugins built as `roost serve` builds them, the log lines, the script
// functions called (RecordingPool) and the HTTP stubs; fixtures written beside the sessions.
import { accessSync, constants, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Settings } from '../../config/index.js';
import { logHub, type LogRecord } from '../../log/logger.js';
import type { AnyMailUser } from '../../mail-user/mail-user.js';
import { MailUserService } from '../../mail-user/service.js';
import { mailUserSettings } from '../../mail-user/settings.js';
import { openSyncUserStore } from '../../storage/index.js';
import type { SyncUserStore } from '../../storage/types.js';
import { createServerContext, type CreatedContext } from '../context.js';
import { installPlugins, type Plugins } from '../plugins.js';
import { HttpControl } from './http-gateway.js';
import type { HookRecord, RecordingPool } from './recording-pool.js';
import { displayPath } from './paths.js';

/** A test's world: its data folder, server context and plugins, logs, hooks and HTTP. */
export class TestEnv {
  readonly logs: LogRecord[] = [];
  readonly hooks: HookRecord[] = [];
  readonly notes: string[] = [];
  readonly http: HttpControl;
  readonly sessions = new Map<number, AnyMailUser>();
  private removeSink: () => void;
  private fixtureUsers: MailUserService;
  ctx!: CreatedContext;
  plugins!: Plugins;
  initError: string | null = null;

  constructor(
    readonly dir: string,
    readonly settings: Settings,
    readonly pool: RecordingPool,
  ) {
    this.http = new HttpControl((line) => this.notes.push(line));
    this.removeSink = logHub.addSink((r) => {
      // The throw-away databases' creation is the harness's business, not the script's.
      if (r.prefix === 'storage: ' && r.message.includes(': applied migration ')) return;
      this.logs.push(r);
    });
    pool.recorder = (h) => this.hooks.push(h);
    // Fixtures are written through their own store instances: no hooks run and the push
    // notification plugin (which follows the sessions' store instances) sees nothing.
    this.fixtureUsers = new MailUserService((service) => mailUserSettings(settings, service), openSyncUserStore);
  }

  async start(): Promise<void> {
    this.ctx = createServerContext(this.settings, { luaPool: this.pool });
    this.plugins = await installPlugins(this.ctx);
    try {
      await this.ctx.auth.init();
    } catch (e) {
      this.initError = e instanceof Error ? e.message : String(e);
    }
  }

  async fixtureStore<T>(username: string, fn: (store: SyncUserStore) => T): Promise<T> {
    const found = await this.ctx.auth.lookupUser(username, 'doveadm');
    if (!found.found) throw new Error(`no such user: ${username} (create it with t.user first)`);
    const user = await this.fixtureUsers.createUser({ username: found.user, service: 'doveadm', userdbFields: found.fields });
    try {
      return fn(user.getStore());
    } finally {
      await this.fixtureUsers.destroyUser(user);
    }
  }

  async stop(): Promise<void> {
    for (const u of this.sessions.values()) await this.ctx.mailUsers.destroyUser(u).catch(() => {});
    this.sessions.clear();
    await this.plugins.drain();
    await this.fixtureUsers.shutdown();
    await this.plugins.close();
    await this.ctx.close();
    this.removeSink();
    this.pool.recorder = null;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Where test stores live: a memory file system when the machine has one (Linux /dev/shm), so
 * the throw-away databases cost no disk syncs; else the temp folder.
 */
export function scratchDir(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/** Error texts Roost raises where Dovecot 2.3 would crash (bindings, prelude). */
const CRASH_TEXTS: Array<[RegExp, string]> = [
  [/Mail storage is not available: namespaces do not exist yet/, 'storage access in mail_user_created'],
  [/already freed: it cannot be used after free\(\)/, 'use of a mailbox after free()'],
  [/is not open \(call open\(\) first\)/, 'metadata change on a mailbox that was not opened'],
  [/os\.exit\(\) is not allowed/, 'os.exit()'],
  [/Can't create multiple passthrough events/, 'two unfinished passthrough events'],
];

/** Runtime notes: a script error Roost raised where Dovecot 2.3 would crash. */
export function compatibilityNotes(env: TestEnv, scripts: string[]): string[] {
  // Lua shortens long chunk names to `...<tail>` in tracebacks: find the script it stands for.
  const fullName = (name: string) => (name.startsWith('...') ? (scripts.find((s) => s.endsWith(name.slice(3))) ?? name) : name);
  const notes = new Set<string>();
  const texts = [...env.hooks.map((h) => h.error ?? ''), ...env.logs.map((l) => l.message)];
  for (const text of texts) {
    for (const [re, what] of CRASH_TEXTS) {
      if (!re.test(text)) continue;
      // The script's own line in the message or its traceback (Roost's chunks are `roost/...`).
      const where = [...text.matchAll(/(?:^|\s)([^\s:]+\.lua):(\d+):/g)].find((m) => !m[1]!.startsWith('roost/'));
      notes.add(`${where ? `${displayPath(fullName(where[1]!))}:${where[2]}: ` : ''}Dovecot compatibility: ${what} crashes Dovecot 2.3 (Roost raised a Lua error instead)`);
    }
  }
  return [...notes];
}
