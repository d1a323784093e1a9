// Copies the files that are not TypeScript next to the compiled JavaScript: tsc emits only .js,
// and the modules read them from beside themselves (an installed `roost` has no src/):
// - the Lua chunks (src/lua/chunks/*.lua), read by src/lua/lua-chunks.ts;
// - the pgsql storage backend's migrations (src/storage/pgsql/migrations/*.sql), read by
//   src/storage/pgsql/migrations.ts.
// Run by `npm run build` (after tsc); the jest globalSetup does the same.
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folders of src/ copied as they are to the same place under dist/src/. */
export const ASSET_DIRS = ['lua/chunks', 'storage/pgsql/migrations'] as const;

export function copyAssets(root: string): void {
  for (const dir of ASSET_DIRS) cpSync(join(root, 'src', dir), join(root, 'dist/src', dir), { recursive: true });
}

// As a script: `node dist/scripts/copy-assets.js` (this file compiled to dist/scripts/).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  copyAssets(join(dirname(fileURLToPath(import.meta.url)), '../..'));
}
