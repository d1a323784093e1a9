// doveadm who/kick masks: user wildcards and IP networks.
import { ipMatches, isIpMask, userMaskMatches } from '../../src/admin/mask.js';

test('user masks: * and ? over the whole name, other characters literal', () => {
  expect(userMaskMatches('alice', 'alice')).toBe(true);
  expect(userMaskMatches('alice', 'alice2')).toBe(false);
  expect(userMaskMatches('alice*', 'alice2')).toBe(true);
  expect(userMaskMatches('*@example.com', 'bob@example.com')).toBe(true);
  expect(userMaskMatches('*@example.com', 'bob@exampleXcom')).toBe(false);
  expect(userMaskMatches('b?b', 'bob')).toBe(true);
  expect(userMaskMatches('b?b', 'boob')).toBe(false);
  expect(userMaskMatches('a+b', 'aab')).toBe(false);
});

test('IP masks: an address or a network, v4 and v6', () => {
  expect(isIpMask('127.0.0.1')).toBe(true);
  expect(isIpMask('10.0.0.0/8')).toBe(true);
  expect(isIpMask('::1')).toBe(true);
  expect(isIpMask('alice')).toBe(false);
  expect(ipMatches('127.0.0.1', '127.0.0.1')).toBe(true);
  expect(ipMatches('127.0.0.1', '127.0.0.2')).toBe(false);
  expect(ipMatches('127.0.0.0/8', '127.1.2.3')).toBe(true);
  expect(ipMatches('10.0.0.0/8', '127.1.2.3')).toBe(false);
  expect(ipMatches('2001:db8::/32', '2001:db8::5')).toBe(true);
  expect(ipMatches('2001:db8::/32', '127.0.0.1')).toBe(false);
});
