// Copies the Lua chunks (src/lua/chunks/*.lua) next to the compiled JavaScript: tsc emits only
// .js, and src/lua/lua-chunks.ts reads the chunks from beside itself. Run by `npm run build`
// (after tsc) and by the jest globalSetup.
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function copyLuaChunks(root: string): void {
  cpSync(join(root, 'src/lua/chunks'), join(root, 'dist/src/lua/chunks'), { recursive: true });
}

// As a script: `node dist/scripts/copy-lua-chunks.js` (this file compiled to dist/scripts/).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  copyLuaChunks(join(dirname(fileURLToPath(import.meta.url)), '../..'));
}
