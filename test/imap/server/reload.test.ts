// ImapServer.reload(): new connections get the new context; a listener whose TLS files changed is
// bound again with the new certificate, an unchanged one keeps its socket; open sessions stay.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import tls from 'node:tls';
import { createServerContext } from '../../../src/cli/context.js';
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
afterAll(() => t?.stop());

function peerCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.once('error', reject);
  });
}

test('changed TLS files rebind imaps; imap keeps its port; open sessions stay on the old context', async () => {
  t = await startTestServer();
  const plainPort = t.server.port('imap');
  const oldTlsPort = t.server.port('imaps');
  const oldCert = await peerCertificate(oldTlsPort);
  const before = await RawClient.connect(plainPort);
  expect((await before.command('a', 'LOGIN alice pw')).pop()).toMatch(/^a OK /);
  const tlsBefore = await RawClient.connect(oldTlsPort, true);

  const cert = join(t.dataDir, 'new.pem');
  const key = join(t.dataDir, 'new.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=reloaded.example'], { stdio: 'ignore' });
  const settings = { ...t.ctx.settings, ssl_cert: cert, ssl_key: key, imap_capability: '+XRELOADED' };
  const next = createServerContext(settings, { serverDb: t.ctx.serverDb });
  try {
    await t.server.reload(next);
    // The plain listener was not touched; the TLS one is a new socket with the new certificate.
    expect(t.server.port('imap')).toBe(plainPort);
    const newTlsPort = t.server.port('imaps');
    const newCert = await peerCertificate(newTlsPort);
    expect(newCert).not.toBe(oldCert);
    // New logins use the new context; the open session still answers, on the old one.
    const after = await RawClient.connect(plainPort);
    expect((await after.command('b', 'LOGIN bob pw')).pop()).toContain('XRELOADED');
    expect(t.server.sessionsUsing(next)).toBe(1);
    expect(t.server.sessionsUsing(t.ctx)).toBe(2);
    expect((await before.command('n', 'NOOP')).pop()).toMatch(/^n OK /);
    expect((await tlsBefore.command('c', 'CAPABILITY')).pop()).toMatch(/^c OK /);
    after.socket.destroy();
  } finally {
    before.socket.destroy();
    tlsBefore.socket.destroy();
    await t.server.reload(t.ctx);
    await next.close();
  }
}, 60_000);
