// Jest globalSetup: worker threads cannot load TypeScript, so compile the worker entries (and
// what they import) to dist/ exactly like `npm run build` would, before any test spawns them.
// The Lua chunks (src/lua/chunks/*.lua) are copied beside them. Only the worker entry graph is compiled, so unrelated work in progress cannot break it.
import ts from 'typescript';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { cpSync } from 'node:fs';

const WORKER_ENTRIES = [
  'src/lua/worker.ts',
  'src/lua/http-worker.ts',
  'src/lua/bindings/mail-user.ts',
  // auth (driver = lua): the `req` binding and the password hash helper thread
  'src/auth/drivers/lua-auth-request.ts',
  'src/auth/schemes/hash-worker.ts',
  // push notifications: the driver's transaction runner
  'src/lua/push-notification/binding.ts',
  // `roost lua test` runs the test files in this thread
  'src/cli/lua-test/runner-worker.ts',
  // the storage sync bridge: its helper thread, and the client for the child processes of its test
  'src/storage/sync-bridge/worker.ts',
  'src/storage/sync-bridge/client.ts',
  // the pgsql storage backend, for child processes of its tests
  'src/storage/pgsql/index.ts',
];

export default function globalSetup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const configPath = join(root, 'tsconfig.build.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root);
  const program = ts.createProgram(
    WORKER_ENTRIES.map((f) => join(root, f)),
    { ...parsed.options, noEmitOnError: false },
  );
  const result = program.emit();
  if (result.emitSkipped) throw new Error('globalSetup: compiling the Lua worker entries failed');
  // tsc emits no .lua or .sql: the workers read the Lua chunks from dist/src/lua/chunks/, the
  // pgsql backend its migrations from dist/src/storage/pgsql/migrations/ (as scripts/copy-assets.ts
  // does for `npm run build`; jest's globalSetup cannot import it).
  for (const dir of ['lua/chunks', 'storage/pgsql/migrations']) cpSync(join(root, 'src', dir), join(root, 'dist/src', dir), { recursive: true });
}
