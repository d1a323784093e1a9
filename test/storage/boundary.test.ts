// The storage boundary (DESIGN.md decision 7): a backend is one folder under src/storage/, and
// nothing outside src/storage names one. Every source file outside src/storage is read: none may
// import from a backend's folder or from the SQLite driver, or open a store other than through
// src/storage/index.ts and the contract in src/storage/types.ts. The one other user of the SQLite
// driver is the auth layer's SQL passdb/userdb (dovecot-sql.conf.ext `driver = sqlite`): it reads
// an operator's user database, not a mail store. It shares the PostgreSQL backend's connect-string
// parser and lost-connection rules (storage/pgsql/connect.ts), as Dovecot's auth and mail share lib-sql.
import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKENDS } from '../../src/storage/backends.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = join(ROOT, 'src');
const STORAGE = join(SRC, 'storage');
/** Folders outside storage allowed to use a database driver of their own (not for mail). */
const OWN_DRIVERS = [join(SRC, 'auth', 'drivers', 'sql')];
/** The one backend module those folders may use. */
const SHARED_SQL = join(SRC, 'storage', 'pgsql', 'connect.js');
/** Backend folders being built and not yet listed in backends.ts (none now). */
const NOT_YET_SERVING: string[] = [];
/** Folders under src/storage that serve every backend and are no backend themselves. */
const NOT_BACKENDS = ['sync-bridge'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.(ts|mts|js|mjs)$/.test(name) ? [p] : [];
  });
}

/** Module specifiers of static and dynamic imports and re-exports. */
function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/(?:^|[^\w.])import\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\s)import\s+['"]([^'"]+)['"]/g)) out.push(m[1]!);
  return out;
}

describe('storage boundary', () => {
  const outside = sourceFiles(SRC).filter((f) => !f.startsWith(STORAGE + '/'));
  const backendDirs = readdirSync(STORAGE)
    .map((n) => join(STORAGE, n))
    .filter((p) => statSync(p).isDirectory() && !NOT_BACKENDS.includes(relative(STORAGE, p)));

  test('every backend is a folder under src/storage', () => {
    const serving = backendDirs.map((d) => relative(STORAGE, d)).filter((n) => !NOT_YET_SERVING.includes(n));
    expect(serving.sort()).toEqual(BACKENDS.map((b) => b.scheme).sort());
  });

  test('nothing outside src/storage imports a backend folder or a database driver', () => {
    const offences: string[] = [];
    for (const file of outside) {
      const text = readFileSync(file, 'utf8');
      const ownDriver = OWN_DRIVERS.some((d) => file.startsWith(d + '/'));
      for (const spec of importsOf(text)) {
        if (!ownDriver && (spec === 'better-sqlite3' || spec.startsWith('better-sqlite3/'))) offences.push(`${relative(ROOT, file)}: imports ${spec}`);
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(file), spec);
        if (ownDriver && target === SHARED_SQL) continue;
        if (backendDirs.some((d) => target === d || target.startsWith(d + '/'))) offences.push(`${relative(ROOT, file)}: imports ${spec}`);
      }
      if (!ownDriver && /better-sqlite3/.test(text)) offences.push(`${relative(ROOT, file)}: mentions better-sqlite3`);
    }
    expect(offences).toEqual([]);
  });

  test('the check sees an offending import', () => {
    expect(importsOf("import { SqliteUserStore } from '../storage/sqlite/user-store.js';\nconst x = await import('../storage/sqlite/index.js');")).toEqual([
      '../storage/sqlite/user-store.js',
      '../storage/sqlite/index.js',
    ]);
    expect(importsOf("import Database from 'better-sqlite3';\nexport * from './x.js';\nimport './side.js';")).toEqual(['better-sqlite3', './x.js', './side.js']);
  });
});
