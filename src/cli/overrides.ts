// `-o key=value` (as doveadm and dovecot take it): each override is appended to the configuration
// text as `key = value`, so it is validated like any setting and errors name it.
import { readFileSync } from 'node:fs';
import { ConfigError, defaultSettings, parseConfigText, type LoadedConfig } from '../config/index.js';
import { UsageError } from './args.js';

export function loadSettings(configPath: string | null, overrides: string[]): LoadedConfig {
  const lines = overrides.map((o) => {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new UsageError(`-o needs key=value, got: ${o}`);
    return `${o.slice(0, eq).trim()} = ${o.slice(eq + 1).trim()}`;
  });
  if (!configPath) {
    return lines.length ? parseConfigText(lines.join('\n') + '\n', '-o') : { settings: defaultSettings(), warnings: [] };
  }
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (e) {
    throw new ConfigError(configPath, 0, `Can't read configuration file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseConfigText(text + '\n' + lines.join('\n') + '\n', configPath);
}
