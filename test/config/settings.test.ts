import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  defaultSettings, formatConfig, loadConfig, parseBool, parseConfigText, parseSize, parseTime, settingsFor,
  type Settings,
} from '../../src/config/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '../fixtures/config');
const shippedConfig = join(here, '../../config/roost.conf');

/** Settings without the raw filter blocks, whose file/line positions differ after a reprint. */
function comparable(s: Settings): Omit<Settings, 'protocol_filters'> & { imap: unknown; lmtp: unknown } {
  const strip = ({ protocol_filters: _f, ...rest }: Settings) => rest;
  return { ...strip(s), imap: strip(settingsFor(s, 'imap')), lmtp: strip(settingsFor(s, 'lmtp')) };
}

describe('value units', () => {
  test.each([
    ['0', 0], ['512', 512], ['10B', 10], ['64k', 65536], ['64 kB', 65536], ['2KiB', 2048], ['50M', 52428800], ['1G', 1073741824],
  ])('size %s = %d bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));
  test.each(['12q', 'k', '-1', '1.5M'])('bad size %s', (text) => expect(() => parseSize(text)).toThrow(`Invalid size: ${text}`));

  test.each([
    ['59s', 59_000], ['59 secs', 59_000], ['123 m', 7_380_000], ['5 mins', 300_000], ['250ms', 250], ['250 msecs', 250],
    ['2 hours', 7_200_000], ['1d', 86_400_000], ['1 weeks', 604_800_000], ['30', 30_000],
  ])('time %s = %d ms', (text, ms) => expect(parseTime(text)).toBe(ms));
  test.each(['soon', '5 lightyears', '-5s'])('bad time %s', (text) => expect(() => parseTime(text)).toThrow('Invalid time interval'));

  test('booleans are yes/no', () => {
    expect(parseBool('yes')).toBe(true);
    expect(parseBool('NO')).toBe(false);
    expect(() => parseBool('true')).toThrow('Invalid boolean value: true (use yes or no)');
  });
});

describe('defaults', () => {
  test('Roost defaults and Dovecot names', () => {
    const s = defaultSettings();
    expect(s.data_dir).toBe(resolve('./data'));
    expect(s.mail_home).toBe(`${resolve('./data')}/home/%d/%n`);
    expect(s.mail_location).toBe('sqlite:~/mail.db');
    expect(s.login_greeting).toBe('Dovecot ready.');
    expect(s.imap_metadata).toBe(false);
    expect(s.mail_max_userip_connections).toBe(10);
    expect(s.mail_max_message_size).toBe(50 * 1024 * 1024);
    expect(s.imap_idle_timeout).toBe(30 * 60_000);
    expect(s.lua_call_timeout).toBe(5000);
    expect(s.recipient_delimiter).toBe('+');
    const listeners = Object.values(s.service).flatMap((svc) => svc.inet_listener.map((l) => `${svc.name}/${l.name}:${l.port}${l.ssl ? '+ssl' : ''}`));
    expect(listeners.sort()).toEqual(['imap-login/imap:1143', 'imap-login/imaps:1993+ssl', 'lmtp/lmtp:2424']);
    expect(s.listen).toEqual(['127.0.0.1']);
    expect(s.service['imap-login']!.client_limit).toBe(1000);
    expect(s.namespace).toEqual([expect.objectContaining({ name: 'inbox', inbox: true, separator: '/' })]);
    expect(s.passdb.map((d) => d.driver)).toEqual(['roost']);
  });

  test('mail_home follows data_dir unless set', () => {
    const { settings } = parseConfigText('data_dir = /srv/roost\n', 't.conf');
    expect(settings.mail_home).toBe('/srv/roost/home/%d/%n');
  });
});

describe('sections', () => {
  test('namespaces, mailboxes, auth databases, services and plugin settings', () => {
    const { settings, warnings } = parseConfigText(
      `
namespace inbox {
  inbox = yes
  mailbox "Sent Messages" {
    special_use = \\Sent
    auto = subscribe
  }
}
namespace inbox {
  mailbox Trash {
    special_use = \\Trash
  }
}
passdb {
  driver = lua
  args = file=/etc/roost/auth.lua blocking=yes
  result_failure = return-fail
}
passdb master {
  driver = static
  master = yes
}
userdb {
  driver = roost
  default_fields = quota_rule=*:storage=1G
}
service imap-login {
  client_limit = 50
  process_limit = 4
  inet_listener imap {
    port = 10143
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0660
    user = postfix
  }
}
plugin {
  mail_lua_script = /etc/roost/user.lua
  push_notification_driver = lua:file=/etc/roost/push.lua
  any_plugin_key = anything goes
}
`,
      't.conf',
    );
    expect(settings.namespace).toHaveLength(1);
    expect(settings.namespace[0]!.mailboxes).toEqual([
      { name: 'Sent Messages', special_use: ['\\Sent'], auto: 'subscribe' },
      { name: 'Trash', special_use: ['\\Trash'], auto: 'no' },
    ]);
    expect(settings.passdb.map((d) => [d.driver, d.args, d.result_failure, d.master])).toEqual([
      ['lua', 'file=/etc/roost/auth.lua blocking=yes', 'return-fail', false],
      ['static', '', 'continue', true],
    ]);
    expect(settings.userdb).toEqual([expect.objectContaining({ driver: 'roost', default_fields: 'quota_rule=*:storage=1G' })]);
    const login = settings.service['imap-login']!;
    expect(login.client_limit).toBe(50);
    expect(login.inet_listener.map((l) => [l.name, l.port])).toEqual([['imap', 10143], ['imaps', 0]]);
    expect(settings.service.lmtp!.unix_listener).toEqual([{ path: 'lmtp', mode: 0o660, user: 'postfix', group: '' }]);
    expect(settings.plugin).toEqual({
      mail_lua_script: '/etc/roost/user.lua',
      push_notification_driver: 'lua:file=/etc/roost/push.lua',
      any_plugin_key: 'anything goes',
    });
    expect(warnings).toEqual(['t.conf line 29: service process_limit is a Dovecot setting that Roost does not use (ignored)']);
  });

  test('exactly one inbox namespace', () => {
    expect(() => parseConfigText('namespace a {\n prefix = a/\n}\n', 'n.conf')).toThrow(
      'n.conf: namespace configuration error: inbox=yes namespace missing',
    );
  });

  test('other store formats are accepted with one warning', () => {
    const { settings, warnings } = parseConfigText('mail_location = maildir:~/Maildir\n', 'm.conf');
    expect(settings.mail_location).toBe('sqlite:~/mail.db');
    expect(warnings).toEqual(['m.conf line 1: mail_location = maildir:~/Maildir: Roost keeps its own store (sqlite:~/mail.db) under the home']);
  });
});

describe('protocol filters', () => {
  const text = `
mail_plugins = quota
protocol imap {
  mail_plugins = $mail_plugins imap_quota
  mail_max_userip_connections = 20
}
protocol lmtp {
  mail_plugins = $mail_plugins sieve
  plugin {
    mail_lua_script = /lmtp.lua
  }
}
protocol !imap {
  login_greeting = not imap
}
local 10.0.0.0/8 {
  mail_debug = yes
}
`;
  test('settingsFor applies the matching blocks only', () => {
    const { settings, warnings } = parseConfigText(text, 'f.conf');
    expect(settings.mail_plugins).toEqual(['quota']);
    const imap = settingsFor(settings, 'imap');
    expect(imap.mail_plugins).toEqual(['quota', 'imap_quota']);
    expect(imap.mail_max_userip_connections).toBe(20);
    expect(imap.login_greeting).toBe('Dovecot ready.');
    const lmtp = settingsFor(settings, 'lmtp');
    expect(lmtp.mail_plugins).toEqual(['quota', 'sieve']);
    expect(lmtp.plugin.mail_lua_script).toBe('/lmtp.lua');
    expect(lmtp.login_greeting).toBe('not imap');
    expect(lmtp.mail_max_userip_connections).toBe(10);
    expect(settings.plugin).toEqual({});
    expect(warnings).toEqual(['f.conf line 16: local 10.0.0.0/8 { } filters are not supported by Roost (block ignored)']);
  });

  test('errors inside a filter are reported at load time', () => {
    expect(() => parseConfigText('protocol imap {\n  imap_metadata = perhaps\n}\n', 'f.conf')).toThrow(
      'f.conf line 2: imap_metadata: Invalid boolean value: perhaps (use yes or no)',
    );
  });
});

test('URLAUTH settings: imap_urlauth_host/port/submit_user are used, imap_urlauth_stream_user ignored', () => {
  expect(defaultSettings().imap_urlauth_host).toBe('');
  expect(defaultSettings().imap_urlauth_port).toBe(143);
  const { settings, warnings } = parseConfigText(
    'imap_urlauth_host = mail.example.org\nimap_urlauth_port = 1143\nimap_urlauth_submit_user = submit\nimap_urlauth_stream_user = s\n', 'u.conf');
  expect(settings.imap_urlauth_host).toBe('mail.example.org');
  expect(settings.imap_urlauth_port).toBe(1143);
  expect(settings.imap_urlauth_submit_user).toBe('submit');
  expect(warnings).toEqual(['u.conf line 4: imap_urlauth_stream_user is a Dovecot setting that Roost does not use (ignored)']);
});

describe('real configuration files', () => {
  test("Debian's dovecot.conf with conf.d loads, with one warning per unused setting", () => {
    // Copied from dovecot-core 2.3.19 (Debian 12); the protocols.d include points into the fixture.
    const { settings, warnings } = loadConfig(join(fixtures, 'debian/dovecot.conf'));
    expect(settings.protocols).toEqual(['imap', 'lmtp']);
    expect(settings.auth_mechanisms).toEqual(['plain']);
    expect(settings.ssl).toBe('yes');
    expect(settings.ssl_cert).toBe('/etc/dovecot/private/dovecot.pem');
    expect(settings.passdb).toEqual([expect.objectContaining({ driver: 'pam' })]);
    expect(settings.userdb).toEqual([expect.objectContaining({ driver: 'passwd' })]);
    expect(settings.namespace[0]!.mailboxes.map((m) => `${m.name}=${m.special_use.join()}`)).toEqual([
      'Drafts=\\Drafts', 'Junk=\\Junk', 'Trash=\\Trash', 'Sent=\\Sent', 'Sent Messages=\\Sent',
    ]);
    const lines = warnings.map((w) => w.replace(`${fixtures}/debian/`, ''));
    expect(lines).toEqual([
      'conf.d/10-director.conf line 30: service director is a Dovecot service that Roost does not run (ignored)',
      'conf.d/10-director.conf line 34: fifo_listener is not used by Roost (ignored)',
      'conf.d/10-mail.conf line 30: mail_location = mbox:~/mail:INBOX=/var/mail/%u: Roost keeps its own store (sqlite:~/mail.db) under the home',
      'conf.d/10-mail.conf line 114: mail_privileged_group is a Dovecot setting that Roost does not use (ignored)',
      'conf.d/10-master.conf line 38: service pop3-login is a Dovecot service that Roost does not run (ignored)',
      'conf.d/10-master.conf line 48: service submission-login is a Dovecot service that Roost does not run (ignored)',
      'conf.d/10-master.conf line 122: service dict is a Dovecot service that Roost does not run (ignored)',
      'conf.d/10-ssl.conf line 36: ssl_client_ca_dir is a Dovecot setting that Roost does not use (ignored)',
      'conf.d/10-ssl.conf line 55: ssl_dh is a Dovecot setting that Roost does not use (ignored)',
    ]);
  });

  test('the shipped config/roost.conf loads cleanly', () => {
    const { settings, warnings } = loadConfig(shippedConfig);
    expect(warnings).toEqual([]);
    expect(settings.login_greeting).toBe('Roost ready.');
    expect(settings.imap_metadata).toBe(true);
    expect(settings.data_dir).toBe(resolve('./data'));
    const inbox = settings.namespace.find((n) => n.inbox)!;
    expect(inbox.mailboxes.map((m) => [m.name, m.special_use[0], m.auto])).toEqual([
      ['Drafts', '\\Drafts', 'subscribe'], ['Sent', '\\Sent', 'subscribe'], ['Trash', '\\Trash', 'subscribe'],
      ['Junk', '\\Junk', 'subscribe'], ['Archive', '\\Archive', 'subscribe'],
    ]);
    expect(settings.passdb.map((d) => d.driver)).toEqual(['roost']);
  });
});

describe('formatConfig', () => {
  test('prints only non-default settings, like doveconf -n', () => {
    const { settings } = parseConfigText('imap_metadata = yes\nmail_max_message_size = 10M\nlogin_greeting = Hi # there\n', 'p.conf');
    expect(formatConfig(settings)).toBe('imap_metadata = yes\nlogin_greeting = Hi\nmail_max_message_size = 10M\n');
    expect(formatConfig(defaultSettings())).toBe('\n');
  });

  test.each([
    ['the shipped config', () => loadConfig(shippedConfig)],
    ["Debian's config", () => loadConfig(join(fixtures, 'debian/dovecot.conf'))],
    ['filters, quoting and special values', () => parseConfigText(
      'login_greeting = "  $odd # value \\" "\nmail_plugins = a b\nprotocol imap {\n  mail_plugins = $mail_plugins c\n  login_greeting = "x y"\n}\n' +
        'passdb {\n  driver = lua\n  args = file=/x.lua\n}\nimap_idle_notify_interval = 90s\nlua_call_timeout = 250ms\n', 'q.conf')],
  ])('round trip: %s prints and parses back to the same settings', (_name, load) => {
    const { settings } = load();
    for (const all of [false, true]) {
      const printed = formatConfig(settings, { all });
      const reparsed = parseConfigText(printed, 'printed.conf').settings;
      expect(comparable(reparsed)).toEqual(comparable(settings));
    }
  });
});
