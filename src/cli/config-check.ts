// Start-up checks on a loaded configuration, for what the config layer cannot know by itself:
// driver names the auth layer registers, files the servers will open. `roost serve`, `roost
// config` and every verb that loads the configuration run them, so a Debian dovecot.conf with
// `passdb { driver = pam }` fails before the first login, with the file and line, as Dovecot's
// own start-up fails (`doveconf: Fatal: Error in configuration file F line N: ...`).
import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { authDriverNames, hasAuthDriver } from '../auth/index.js';
import { ConfigError, sourceOf, type Settings } from '../config/index.js';

/** Throws a ConfigError naming the file and line for the first problem found. */
export function checkSettings(settings: Settings, configPath: string | null): void {
  const fallback = configPath ?? 'defaults';
  const fail = (owner: object, key: string, reason: string): never => {
    const at = sourceOf(owner, key);
    throw new ConfigError(at?.file ?? fallback, at?.line ?? 0, reason, key);
  };

  for (const kind of ['passdb', 'userdb'] as const) {
    for (const db of settings[kind]) {
      if (!hasAuthDriver(db.driver, kind)) {
        // Dovecot's passdb.c / userdb.c wording, with the drivers Roost has instead of doveconf -m.
        fail(db, 'driver', `Unknown ${kind} driver '${db.driver}' (Roost has: ${authDriverNames(kind).join(', ')})`);
      }
    }
  }

  // Certificates are read when the listeners start; a wrong path should not wait for that.
  if (settings.ssl !== 'no') {
    if (settings.ssl_cert && !settings.ssl_key) fail(settings, 'ssl_cert', 'ssl_cert is set but ssl_key is not: set both, or neither for a generated self-signed certificate');
    if (settings.ssl_key && !settings.ssl_cert) fail(settings, 'ssl_key', 'ssl_key is set but ssl_cert is not: set both, or neither for a generated self-signed certificate');
    for (const key of ['ssl_cert', 'ssl_key'] as const) {
      const problem = settings[key] ? unreadable(settings[key]) : null;
      if (problem) fail(settings, key, `${key}: Can't open file ${settings[key]}: ${problem}`);
    }
  }

  // A global script (a per-user one comes from the userdb and is checked when the user logs in).
  const script = settings.plugin.mail_lua_script;
  if (script && !script.includes('%')) {
    const problem = unreadable(resolve(script));
    if (problem) fail(settings.plugin, 'mail_lua_script', `mail_lua_script: Can't open file ${script}: ${problem}`);
  }
}

/** Why `path` cannot be read as a file (strerror's words), or null when it can. */
function unreadable(path: string): string | null {
  try {
    if (statSync(path).isDirectory()) return 'Is a directory';
    accessSync(path, constants.R_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : (code ?? String(e));
  }
}
