// Jest globalSetup of the `pgsql` project (jest.config.js): one private PostgreSQL server for every
// suite that runs on the PostgreSQL backend (test/backend.ts), its superuser connection passed to
// the test processes in ROOST_TEST_PG; global-pgsql-teardown.ts destroys it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import type { PgServer } from './harness.js';

export default async function globalSetup(): Promise<void> {
  // jest loads a globalSetup with plain Node, which cannot import the harness's TypeScript (its
  // transform covers this file only): transpile it beside the build (dist/test/pg/), then import.
  const here = dirname(fileURLToPath(import.meta.url));
  const out = join(here, '..', '..', 'dist', 'test', 'pg', 'harness.js');
  const js = ts.transpileModule(readFileSync(join(here, 'harness.ts'), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, js);
  const { startPostgres } = (await import(pathToFileURL(out).href)) as typeof import('./harness.js');
  const server = await startPostgres();
  (globalThis as { roostTestPg?: PgServer }).roostTestPg = server;
  process.env.ROOST_TEST_PG = JSON.stringify(server.admin);
}
