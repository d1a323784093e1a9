// The stats listener is off unless configured, as in Dovecot: the default configuration and
// config/roost.conf (whose example is commented out) have none; `service stats { inet_listener
// http { port } }` reads without warnings and turns it on; port = 0 disables it again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/index.js';
import { metricsConfigured, metricsListeners } from '../../src/metrics/server.js';
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

test('only listeners named http serve /metrics, as in Dovecot: inet_listener http, unix_listener http', () => {
  const conf = parseConfigText(
    [
      'base_dir = /run/roost',
      'service stats {',
      '  inet_listener http {\n    port = 9900\n  }',
      '  inet_listener metrics {\n    port = 9901\n  }',
      '  unix_listener http {\n    mode = 0660\n    user = root\n  }',
      '  unix_listener /srv/stats/http {\n  }',
      '  unix_listener stats-writer {\n  }',
      '}',
      '',
    ].join('\n'),
    'd.conf',
  );
  expect(conf.warnings).toEqual([]);
  const l = metricsListeners(conf.settings);
  expect(l.inet).toEqual([{ host: '127.0.0.1', port: 9900 }]);
  expect(l.unix).toEqual([
    { path: '/run/roost/http', mode: 0o660, user: 'root', group: '' },
    { path: '/srv/stats/http', mode: 0o600, user: '', group: '' },
  ]);
  // Dovecot's stats service speaks its reader/writer protocol on the others (checked on 2.3.19).
  expect(l.skipped).toEqual(['inet_listener metrics', 'unix_listener stats-writer']);
  // A unix listener alone turns the endpoint on.
  const unixOnly = parseConfigText('service stats {\n  unix_listener http {\n  }\n}\n', 'd.conf');
  expect(metricsConfigured(unixOnly.settings)).toBe(true);
});
