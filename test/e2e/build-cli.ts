// Builds the real `roost` command (src/cli/main.ts and what it imports) into dist/, as
// `npm run build` does, for tests that spawn it. Unchanged files are not rewritten and changed
// ones are replaced atomically, so tests running at the same time never see a half-written file.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built `roost` entry (`node dist/src/cli/main.js ...`). */
export const ROOST_MAIN = join(ROOT, 'dist/src/cli/main.js');

export function buildRoost(): void {
  const read = ts.readConfigFile(join(ROOT, 'tsconfig.build.json'), (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT);
  const program = ts.createProgram([join(ROOT, 'src/cli/main.ts')], { ...parsed.options, noEmitOnError: false });
  const result = program.emit(undefined, (file, text) => {
    if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  });
  if (result.emitSkipped) throw new Error('compiling src/cli/main.ts failed');
}
