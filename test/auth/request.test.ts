// AuthRequest.expand answers the templates every lookup expands without building the variable
// table; what it answers must be what the full expansion gives.
import { expect, test } from '@jest/globals';
import { AuthRequest } from '../../src/auth/request.js';
import { authVarExpand } from '../../src/auth/var-expand.js';

const users = ['alice', 'Alice@Example.COM', 'ÄLICE@ÉXAMPLE.org', 'bob%u', 'x y', ''];
const templates = ['%u', '%Lu', '/etc/dovecot/users', '', '%n', '%Ln@%d', '%{user}', '100%%'];

test.each(users)('expand(%j) gives what the full expansion gives, for every template', (user) => {
  const req = new AuthRequest(user, { service: 'lmtp', remoteIp: '192.0.2.1' });
  for (const template of templates) {
    const full = authVarExpand(template, { variables: req.variables(), passdbFields: req.passdbFields, userdbFields: req.userdbFields });
    expect([template, req.expand(template)]).toEqual([template, full]);
  }
});

test('%Lu lowercases ASCII letters only, as Dovecot does', () => {
  expect(new AuthRequest('ÄLICE@Example.COM', { service: 'imap' }).expand('%Lu')).toBe('Älice@example.com');
});
