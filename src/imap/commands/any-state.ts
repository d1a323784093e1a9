// Commands valid in every state (RFC 3501 §6.1) plus ID (RFC 2971) and ENABLE (RFC 5161).
import { formatNString } from '../protocol/index.js';
import { ENABLEABLE } from '../capabilities.js';
import type { SessionExtension } from './context.js';
import { ANY_STATE, AUTHENTICATED, ok, type CommandHandler } from './types.js';

export const CAPABILITY: CommandHandler<'CAPABILITY'> = {
  states: ANY_STATE,
  async run(session) {
    session.respond(`* CAPABILITY ${session.capabilities().join(' ')}\r\n`);
    return ok('Capability completed.');
  },
};

// RFC 3501 §6.1.2: NOOP is the polling point; the session announces pending updates before OK.
export const NOOP: CommandHandler<'NOOP'> = {
  states: ANY_STATE,
  async run() {
    return ok('NOOP completed.');
  },
};

export const LOGOUT: CommandHandler<'LOGOUT'> = {
  states: ANY_STATE,
  async run(session, tag) {
    // After login the imap process adds its timing, as to every reply (see the session's writeTagged).
    await session.logout('* BYE Logging out\r\n', `${tag} OK ${session.user ? 'Logout completed (0.001 + 0.000 secs).' : 'Logout completed.'}\r\n`);
    return null;
  },
};

/** RFC 8437 §3: the tagged OK comes after the session is back in the not-authenticated state. */
export const UNAUTHENTICATE: CommandHandler<'UNAUTHENTICATE'> = {
  states: AUTHENTICATED,
  async run(session) {
    await session.unauthenticate();
    return ok('Unauthenticate completed.');
  },
};

/** RFC 2971: the server's answer is `imap_id_send` (Dovecot's default `name *` → "Dovecot"; Roost's name). */
export const ID: CommandHandler<'ID'> = {
  states: ANY_STATE,
  async run(session, _tag, cmd) {
    if (cmd.params && session.settings.imap_id_log) {
      const wanted = session.settings.imap_id_log.split(/\s+/).map((s) => s.toLowerCase());
      const logged = cmd.params.filter(([k]) => wanted.includes('*') || wanted.includes(k.toLowerCase()));
      if (logged.length > 0) (session.user?.log ?? session.log).info(`ID sent: ${logged.map(([k, v]) => `${k}=${v ?? 'NIL'}`).join(', ')}`);
    }
    session.respond(`* ID ${idResponse(session.settings.imap_id_send)}\r\n`);
    return ok('ID completed.');
  },
};

function idResponse(setting: string): string {
  const pairs: string[] = [];
  // `name *` means "the default value" (Dovecot: its own name); values may be quoted.
  const re = /(\S+)\s+("(?:[^"\\]|\\.)*"|\S+)/g;
  for (let m = re.exec(setting); m; m = re.exec(setting)) {
    const key = m[1]!;
    let value: string | null = m[2]!.startsWith('"') ? m[2]!.slice(1, -1).replace(/\\(.)/g, '$1') : m[2]!;
    if (value === '*') value = defaultIdValue(key);
    if (value === null) continue;
    pairs.push(`${formatNString(key)} ${formatNString(value)}`);
  }
  return pairs.length === 0 ? 'NIL' : `(${pairs.join(' ')})`;
}

function defaultIdValue(key: string): string | null {
  switch (key.toLowerCase()) {
    case 'name':
      return 'Roost';
    case 'version':
      return '0.1.0';
    case 'os':
      return process.platform;
    default:
      return null;
  }
}

// RFC 5161 §3.1: unknown extensions are ignored; `* ENABLED` lists what was newly enabled.
export const ENABLE: CommandHandler<'ENABLE'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    const enabled: string[] = [];
    for (const cap of cmd.capabilities) {
      const known = ENABLEABLE.get(cap) as SessionExtension | undefined;
      if (known && (await session.enableExtension(known))) enabled.push(known);
    }
    session.respond(`* ENABLED${enabled.map((c) => ` ${c}`).join('')}\r\n`);
    return ok('Enabled.');
  },
};
