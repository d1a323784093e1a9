// The stats listener is off unless configured, as in Dovecot: the default configuration and
// config/roost.conf (whose example is commented out) have none; `service stats { inet_listener
// http { port } }` reads without warnings and turns it on; port = 0 disables it again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/index.js';
import { metricsConfigured } from '../../src/metrics/server.js';
import { ROOT } from '../cli/built-roost.js';

test('off by default and in the shipped config/roost.conf', () => {
  expect(metricsConfigured(parseConfigText('', 'empty.conf').settings)).toBe(false);
  const shipped = readFileSync(join(ROOT, 'config/roost.conf'), 'utf8');
  expect(shipped).toMatch(/^#service stats \{\n#  inet_listener http \{/m);
  expect(metricsConfigured(parseConfigText(shipped, 'roost.conf').settings)).toBe(false);
});

test('service stats { inet_listener http { port } } turns it on, port = 0 off', () => {
  const on = parseConfigText('service stats {\n  inet_listener http {\n    address = 127.0.0.1\n    port = 9900\n  }\n}\n', 'd.conf');
  expect(on.warnings).toEqual([]);
  expect(metricsConfigured(on.settings)).toBe(true);
  expect(on.settings.service.stats!.inet_listener).toEqual([expect.objectContaining({ name: 'http', address: '127.0.0.1', port: 9900 })]);
  const off = parseConfigText('service stats {\n  inet_listener http {\n    port = 0\n  }\n}\n', 'd.conf');
  expect(metricsConfigured(off.settings)).toBe(false);
});
