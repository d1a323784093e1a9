// How `roost lua test` and `roost lua check` name files in their output.
import path from 'node:path';
import type { CheckWarning } from '../../lua/script-check.js';

/** Relative to the working directory when inside it, else absolute. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

/** `file:line: warning: message`, as compilers print warnings. */
export function formatWarning(file: string, w: CheckWarning): string {
  return `${file}:${w.line}: warning: ${w.message}`;
}
