// TLS for IMAP: implicit TLS (the imaps listener) and STARTTLS share one SecureContext. The
// certificate comes from `ssl_cert = </path` / `ssl_key = </path`; without them Roost makes a
// self-signed one under `<data_dir>/ssl/` on first start (with the `openssl` CLI), so a fresh install
// speaks TLS at once and a real certificate is one setting away.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { Settings } from '../config/index.js';
import type { Logger } from '../log/logger.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** Where they came from (logged at start). */
  source: 'configured' | 'generated';
}

/** `ssl_min_protocol` in Node's spelling (Dovecot's ANY/LATEST mapped to the nearest). */
export function minTlsVersion(setting: string): tls.SecureVersion {
  switch (setting) {
    case 'TLSv1':
    case 'SSLv3':
    case 'ANY':
      return 'TLSv1';
    case 'TLSv1.1':
      return 'TLSv1.1';
    case 'TLSv1.3':
    case 'LATEST':
      return 'TLSv1.3';
    default:
      return 'TLSv1.2';
  }
}

/**
 * The certificate and key to use, or null when TLS is off (`ssl = no`) or no certificate could be
 * found or made (then IMAPS is not started and STARTTLS not offered).
 */
export function loadTlsMaterial(settings: Settings, log: Logger): TlsMaterial | null {
  if (settings.ssl === 'no') return null;
  if (settings.ssl_cert || settings.ssl_key) {
    if (!settings.ssl_cert || !settings.ssl_key) throw new Error('ssl_cert and ssl_key must both be set (or neither, for a generated self-signed certificate)');
    return { cert: readFileSync(settings.ssl_cert), key: readFileSync(settings.ssl_key), source: 'configured' };
  }
  const dir = path.join(settings.data_dir, 'ssl');
  const certPath = path.join(dir, 'roost-selfsigned.crt');
  const keyPath = path.join(dir, 'roost-selfsigned.key');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    try {
      generateSelfSigned(certPath, keyPath, settings.hostname || osHostname());
      log.info(`Generated a self-signed TLS certificate in ${dir} (set ssl_cert/ssl_key for a real one)`);
    } catch (err) {
      log.warning(`No TLS certificate configured and none could be generated (${(err as Error).message}): IMAPS and STARTTLS are off`);
      return null;
    }
  }
  return { cert: readFileSync(certPath), key: readFileSync(keyPath), source: 'generated' };
}

/** The openssl CLI is on every system Dovecot runs on; node:crypto cannot sign an X.509 certificate. */
function generateSelfSigned(certPath: string, keyPath: string, commonName: string): void {
  mkdirSync(path.dirname(certPath), { recursive: true, mode: 0o700 });
  const cn = commonName.replace(/[^A-Za-z0-9.-]/g, '') || 'localhost';
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650', '-subj', `/CN=${cn}`, '-keyout', keyPath, '-out', certPath],
    { stdio: 'ignore', timeout: 30_000 },
  );
  chmodSync(keyPath, 0o600);
}

export function createTlsContext(material: TlsMaterial, settings: Settings): tls.SecureContext {
  return tls.createSecureContext({ cert: material.cert, key: material.key, minVersion: minTlsVersion(settings.ssl_min_protocol) });
}
