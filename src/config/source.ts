// Where a setting came from (file and line), for checks that run after loading — a driver name
// the auth layer does not know, a certificate that cannot be read — so their errors can point
// at the line as parse errors do. Kept beside the settings, not in them, so printing and
// comparing settings is unaffected.
import type { ConfigNode } from './parser.js';

export interface SourcePosition {
  file: string;
  /** 1-based; 0 for a command-line `-o` value (the file names the `-o`). */
  line: number;
}

const positions = new WeakMap<object, Map<string, SourcePosition>>();

export function recordSource(owner: object, key: string, node: ConfigNode): void {
  let map = positions.get(owner);
  if (!map) positions.set(owner, (map = new Map()));
  map.set(key, { file: node.file, line: node.line });
}

/** The position of `owner[key]` (a Settings object, a passdb/userdb entry, the plugin map). */
export function sourceOf(owner: object, key: string): SourcePosition | undefined {
  return positions.get(owner)?.get(key);
}
