// The slice of the configuration a mail user needs, for one protocol's effective settings.
import { settingsFor, type Settings } from '../config/index.js';
import type { MailUserSettings } from './mail-user.js';

/** The inbox namespace (Dovecot: the one with `inbox = yes`), or the first one. */
export function inboxNamespace(settings: Settings): Settings['namespace'][number] | undefined {
  return settings.namespace.find((n) => n.inbox) ?? settings.namespace[0];
}

export function mailUserSettings(settings: Settings, service: string): MailUserSettings {
  const s = service === 'imap' || service === 'lmtp' ? settingsFor(settings, service) : settings;
  const globals: Record<string, string> = {};
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'string') globals[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') globals[k] = String(v);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) globals[k] = v.join(' ');
  }
  return {
    mailHome: s.mail_home,
    mailLocation: s.mail_location,
    separator: inboxNamespace(s)?.separator || '/',
    mailUid: s.mail_uid,
    mailGid: s.mail_gid,
    mailDebug: s.mail_debug,
    hostname: s.hostname,
    mailFsync: s.mail_fsync,
    maxMessageSize: s.mail_max_message_size,
    idleCheckInterval: s.mailbox_idle_check_interval,
    indexRetainMessages: s.mail_index_retain_messages,
    plugin: { ...s.plugin },
    globals,
    mailboxes: (inboxNamespace(s)?.mailboxes ?? []).map((m) => ({ name: m.name, specialUse: m.special_use, auto: m.auto })),
  };
}
