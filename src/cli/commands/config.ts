// `roost config [-a]`: the effective configuration, like `doveconf -n` (or every setting with -a).
import { formatConfig } from '../../config/index.js';
import { optionValue, parseArgs } from '../args.js';
import type { CliEnv } from '../cli-context.js';

export function runConfig(env: CliEnv, argv: string[]): number {
  const args = parseArgs(argv, [{ names: ['a', 'all'], value: false }]);
  for (const w of env.warnings) env.io.err(`roost: Warning: ${w}\n`);
  env.io.out(formatConfig(env.settings, { all: optionValue(args, 'a') === 'yes' }));
  return 0;
}
