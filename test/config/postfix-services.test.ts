// The Postfix-facing services of a Debian/mail-in-a-box style dovecot.conf load without warnings
// (service auth with its unix listeners, service quota-status with its executable and listener),
// and `roost config` prints them back.
import { formatConfig, parseConfigText } from '../../src/config/index.js';

const TEXT = `
service auth {
  unix_listener /var/spool/postfix/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
service quota-status {
  executable = quota-status -p postfix
  inet_listener {
    address = 127.0.0.1
    port = 12340
  }
  client_limit = 1
}
plugin {
  quota_status_success = DUNNO
  quota_status_nouser = DUNNO
  quota_status_overquota = "552 5.2.2 Mailbox is full"
}
`;

test('service auth and service quota-status are Roost services, read without warnings', () => {
  const { settings, warnings } = parseConfigText(TEXT, 'd.conf');
  expect(warnings).toEqual([]);
  expect(settings.service.auth!.unix_listener).toEqual([{ path: '/var/spool/postfix/private/auth', mode: 0o660, user: 'postfix', group: 'postfix' }]);
  const qs = settings.service['quota-status']!;
  expect([qs.executable, qs.client_limit]).toEqual(['quota-status -p postfix', 1]);
  expect(qs.inet_listener.map((l) => [l.address, l.port])).toEqual([['127.0.0.1', 12340]]);
  expect(settings.plugin.quota_status_overquota).toBe('552 5.2.2 Mailbox is full');
});

test('roost config prints them back', () => {
  const { settings } = parseConfigText(TEXT, 'd.conf');
  const out = formatConfig(settings);
  expect(out).toContain('service auth {\n  unix_listener /var/spool/postfix/private/auth {\n    mode = 0660\n    user = postfix\n    group = postfix\n  }\n}');
  expect(out).toContain('service quota-status {\n  client_limit = 1\n  executable = quota-status -p postfix\n');
});

test('executable is not a setting of other services (Dovecot\'s own binaries are not run)', () => {
  const { warnings } = parseConfigText('service lmtp {\n  executable = lmtp\n}\n', 'e.conf');
  expect(warnings).toEqual(['e.conf line 2: service executable is a Dovecot setting that Roost does not use (ignored)']);
});
