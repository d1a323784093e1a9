// Worker threads and child processes cannot run TypeScript, so tests that need them transpile the
// storage layer with its backends and its sync bridge (and the logger, config and threads modules
// it imports) to a temp folder once. transpileModule only strips types (no type check), which
// takes milliseconds. node_modules and migrations are symlinked so
// imports and the default migrations folder resolve as in the package.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface CompiledStorage {
  /** Absolute path of the compiled src/storage/index.js. */
  indexPath: string;
  cleanup(): void;
}

export function compileStorage(): CompiledStorage {
  const out = mkdtempSync(join(tmpdir(), 'roost-storage-js-'));
  for (const folder of ['src/storage', 'src/storage/sqlite', 'src/storage/pgsql', 'src/storage/sync-bridge', 'src/threads', 'src/log', 'src/config']) {
    mkdirSync(join(out, folder), { recursive: true });
    for (const file of readdirSync(join(REPO_ROOT, folder))) {
      if (!file.endsWith('.ts')) continue;
      const js = ts.transpileModule(readFileSync(join(REPO_ROOT, folder, file), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      writeFileSync(join(out, folder, file.replace(/\.ts$/, '.js')), js);
    }
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(out, 'node_modules'));
  symlinkSync(join(REPO_ROOT, 'migrations'), join(out, 'migrations'));
  symlinkSync(join(REPO_ROOT, 'src/storage/pgsql/migrations'), join(out, 'src/storage/pgsql/migrations'));
  return {
    indexPath: join(out, 'src/storage/index.js'),
    cleanup: () => rmSync(out, { recursive: true, force: true }),
  };
}
