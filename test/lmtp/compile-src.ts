// A child process cannot run TypeScript: transpile src/ (types stripped, no type check, a few
// hundred ms) into a temp folder, with node_modules and migrations linked as in the package.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CompiledSrc {
  /** Absolute path of the compiled src folder. */
  srcRoot: string;
  cleanup(): void;
}

function transpileDir(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const p = join(from, name);
    if (statSync(p).isDirectory()) transpileDir(p, join(to, name));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
      const js = ts.transpileModule(readFileSync(p, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      writeFileSync(join(to, name.replace(/\.ts$/, '.js')), js);
    }
  }
}

export function compileSrc(): CompiledSrc {
  const out = mkdtempSync(join(tmpdir(), 'roost-src-js-'));
  transpileDir(join(REPO_ROOT, 'src'), join(out, 'src'));
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(out, 'node_modules'));
  symlinkSync(join(REPO_ROOT, 'migrations'), join(out, 'migrations'));
  return { srcRoot: join(out, 'src'), cleanup: () => rmSync(out, { recursive: true, force: true }) };
}
