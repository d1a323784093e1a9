// `roost config [-a|-n] [-h] [SETTING...]`, like doveconf: the settings that differ from the
// defaults (-n, the default), every setting (-a), or the named settings and sections by
// doveconf's path (`service/imap-login/inet_listener/imap/port`); -h prints values without names.
import { formatConfig, lookupSetting } from '../../config/index.js';
import { optionValue, parseArgs, UsageError } from '../args.js';
import type { CliEnv } from '../cli-context.js';

export function runConfig(env: CliEnv, argv: string[]): number {
  const args = parseArgs(argv, [
    { names: ['a', 'all'], value: false },
    { names: ['n', 'non-default'], value: false },
    { names: ['h', 'hide-key'], value: false },
  ]);
  const all = optionValue(args, 'a') === 'yes';
  if (all && optionValue(args, 'n') === 'yes') throw new UsageError('config: -a and -n exclude each other');
  for (const w of env.warnings) env.io.err(`roost: Warning: ${w}\n`);
  if (args.positional.length === 0) {
    env.io.out(formatConfig(env.settings, { all }));
    return 0;
  }
  const hideKey = optionValue(args, 'h') === 'yes';
  let status = 0;
  for (const path of args.positional) {
    const r = lookupSetting(env.settings, path);
    if (r.found === 'setting') env.io.out(hideKey ? `${r.value}\n` : `${r.path} = ${r.value}\n`.replace(/ = \n$/, ' =\n'));
    else if (r.found === 'section') env.io.out(r.text);
    else {
      env.io.err(`roost: Unknown setting: ${path}${r.suggestion ? ` (did you mean ${r.suggestion}?)` : ''}\n`);
      status = 1;
    }
  }
  return status;
}
