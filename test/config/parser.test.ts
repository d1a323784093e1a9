import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfigText } from '../../src/config/index.js';
import { tempConfigDir } from './helpers.js';
// The storage layer registers its mail_location schemes with config when it loads (config/mail-location.ts).
import '../../src/storage/index.js';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config syntax', () => {
  test('key = value, comments, quotes and continuation lines', () => {
    const { settings } = parseConfigText(
      [
        '# a comment',
        'login_greeting = "Hello # not a comment" # a comment',
        "hostname = 'mx.example.org'",
        'mail_plugins = quota \\',
        '   mail_lua',
        '',
        '  imap_max_line_length   =   128k  ',
      ].join('\n'),
      'test.conf',
    );
    expect(settings.login_greeting).toBe('Hello # not a comment');
    expect(settings.hostname).toBe('mx.example.org');
    expect(settings.mail_plugins).toEqual(['quota', 'mail_lua']);
    expect(settings.imap_max_line_length).toBe(128 * 1024);
  });

  test('a # glued to a value starts a comment, with a warning like Dovecot', () => {
    const { settings, warnings } = parseConfigText('mail_plugins = a#b\n', 'x.conf');
    expect(settings.mail_plugins).toEqual(['a']);
    expect(warnings).toEqual([expect.stringMatching(/^x\.conf line 1: Ambiguous '#' character/)]);
  });

  test('backslash escapes inside quotes', () => {
    const { settings } = parseConfigText('plugin {\n  a = "x\\"y"\n  b = \'s\\\'t\'\n}\n', 't.conf');
    expect(settings.plugin).toEqual({ a: 'x"y', b: "s't" });
  });

  test('$setting references expand to the current value', () => {
    const { settings } = parseConfigText('mail_plugins = quota\nmail_plugins = $mail_plugins mail_lua\n', 't.conf');
    expect(settings.mail_plugins).toEqual(['quota', 'mail_lua']);
    // Unknown $words stay as written (Dovecot keeps them too).
    const other = parseConfigText('login_greeting = costs $5 $nosuch\n', 't.conf');
    expect(other.settings.login_greeting).toBe('costs $5 $nosuch');
  });

  test('!include with a glob relative to the including file, in sorted order', () => {
    const t = tempConfigDir({
      'main.conf': 'login_greeting = main\n!include conf.d/*.conf\n!include_try missing/*.conf\n!include_try nothere.conf\n',
      'conf.d/10-a.conf': 'login_greeting = from a\nmail_plugins = a\n',
      'conf.d/20-b.conf': 'mail_plugins = $mail_plugins b\n!include ../extra.ext\n',
      'extra.ext': 'hostname = extra.example\n',
    });
    try {
      const { settings } = loadConfig(join(t.dir, 'main.conf'));
      expect(settings.login_greeting).toBe('from a');
      expect(settings.mail_plugins).toEqual(['a', 'b']);
      expect(settings.hostname).toBe('extra.example');
    } finally {
      t.cleanup();
    }
  });

  test('!include of a missing file is an error naming file and line', () => {
    const t = tempConfigDir({ 'main.conf': '\n!include nothere.conf\n' });
    try {
      const e = errorOf(() => loadConfig(join(t.dir, 'main.conf')));
      expect(e.message).toBe(`${join(t.dir, 'main.conf')} line 2: !include nothere.conf: No matches`);
      expect(e.line).toBe(2);
    } finally {
      t.cleanup();
    }
  });

  test('errors in included files name the included file', () => {
    const t = tempConfigDir({ 'main.conf': '!include sub.conf\n', 'sub.conf': 'mail_debug = yes\nfoo_bar = 1\n' });
    try {
      const e = errorOf(() => loadConfig(join(t.dir, 'main.conf')));
      expect(e.message).toBe(`${join(t.dir, 'sub.conf')} line 2: Unknown setting: foo_bar`);
      expect(e.setting).toBe('foo_bar');
    } finally {
      t.cleanup();
    }
  });

  test('<file values are read from a file relative to the config, trimmed', () => {
    const t = tempConfigDir({
      'roost.conf': 'login_greeting = <greeting.txt\nssl_cert = <certs/mail.pem\n',
      'greeting.txt': '  Welcome to the club  \n\n',
    });
    try {
      const { settings } = loadConfig(join(t.dir, 'roost.conf'));
      expect(settings.login_greeting).toBe('Welcome to the club');
      // Certificates stay paths: the TLS layer reads them (and may reload them).
      expect(settings.ssl_cert).toBe(join(t.dir, 'certs/mail.pem'));
    } finally {
      t.cleanup();
    }
  });

  test('<file of a missing file is an error', () => {
    const e = errorOf(() => parseConfigText('\nlogin_greeting = </nonexistent/greet.txt\n', 'r.conf'));
    expect(e.message).toBe("r.conf line 2: login_greeting: Can't read file /nonexistent/greet.txt: ENOENT");
  });

  test.each([
    ['foo_bar = 1\n', 'x.conf line 1: Unknown setting: foo_bar'],
    ['\n\nmail_debug = maybe\n', 'x.conf line 3: mail_debug: Invalid boolean value: maybe (use yes or no)'],
    ['imap_max_line_length = 12q\n', 'x.conf line 1: imap_max_line_length: Invalid size: 12q'],
    ['imap_idle_timeout = soon\n', 'x.conf line 1: imap_idle_timeout: Invalid time interval: soon'],
    ['mail_debug = yes\n}\n', "x.conf line 2: Unexpected '}'"],
    ['namespace inbox {\n', "x.conf: Missing '}' (section started at x.conf:1)"],
    ['plugin { a = b }\n', "x.conf line 1: Garbage after '{'"],
    ['login_greeting\n', "x.conf line 1: Expecting '='"],
    ['service imap-login {\n  inet_listener imap {\n    port = abc\n  }\n}\n', 'x.conf line 3: port: Invalid port number abc'],
    ['namespace inbox {\n mailbox Sent {\n  auto = maybe\n }\n}\n', 'x.conf line 3: auto: Invalid value: maybe (use no, create, subscribe)'],
    ['mail_lua_script = /x.lua\n', 'x.conf line 1: Unknown setting: mail_lua_script (it belongs inside plugin { })'],
    ['frobnicate {\n}\n', 'x.conf line 1: Unknown section: frobnicate'],
    ['passdb {\n  args = x\n}\n', 'x.conf line 1: passdb { } is missing driver (e.g. driver = roost)'],
    ['ssl = maybe\n', 'x.conf line 1: ssl: Invalid value: maybe (use yes, no, required)'],
    ['mail_location = imapc:\n', 'x.conf line 1: mail_location: Unsupported mail storage: imapc: (use sqlite:~/mail.db or pgsql:host=127.0.0.1 dbname=roost user=roost password=secret)'],
  ])('bad input %j gives %s', (text, message) => {
    expect(errorOf(() => parseConfigText(text, 'x.conf')).message).toBe(message);
  });
});
