// Entry points: read a config file (or text) into finalized Settings plus warnings.
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { overrideNodes } from './overrides.js';
import { parseConfigTree } from './parser.js';
import { applyFilterNodes, buildSettings, finalizeSettings } from './settings-builder.js';
import { builtinSettings, type Settings } from './settings.js';

export interface LoadedConfig {
  settings: Settings;
  /** One line per accepted-but-unused Dovecot setting, ignored filter, or ambiguous comment. */
  warnings: string[];
}

/**
 * Parses configuration text; `fileName` names it in messages and anchors relative includes.
 * `overrides` are command-line `-o path=value` settings, applied after the text.
 */
export function parseConfigText(text: string, fileName: string, overrides: readonly string[] = []): LoadedConfig {
  const { nodes, warnings } = parseConfigTree(text, fileName);
  const settings = buildSettings([...nodes, ...overrideNodes(overrides)], builtinSettings(), warnings);
  return { settings, warnings };
}

/** Loads a configuration file with its includes. Throws ConfigError naming file and line. */
export function loadConfig(path: string, overrides: readonly string[] = []): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, 0, `Can't read configuration file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseConfigText(text, path, overrides);
}

/** Every setting at its default (paths derived from `./data` under the current directory). */
export function defaultSettings(): Settings {
  return finalizeSettings(builtinSettings(), 'defaults');
}

/**
 * The effective settings for one protocol: the global settings with every matching
 * `protocol <name> { }` block applied in file order (`protocol !name` matches every other
 * protocol). `$setting` inside a filter refers to the final global value.
 */
export function settingsFor(settings: Settings, protocol: 'imap' | 'lmtp'): Settings {
  let result = settings;
  for (const f of settings.protocol_filters) {
    const matches = f.protocol.startsWith('!') ? f.protocol.slice(1) !== protocol : f.protocol === protocol;
    if (matches) result = applyFilterNodes(f.nodes, result, []);
  }
  return result === settings ? structuredClone(settings) : result;
}
