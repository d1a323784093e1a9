// Loads the configuration for a CLI run: the file given with -c (or none: the defaults) plus the
// `-o path=value` overrides, which the config layer applies after the file (src/config/overrides.ts).
import { loadConfig, parseConfigText, type LoadedConfig } from '../config/index.js';

export function loadSettings(configPath: string | null, overrides: string[]): LoadedConfig {
  return configPath ? loadConfig(configPath, overrides) : parseConfigText('', 'defaults', overrides);
}
