// Argument parsing for `roost`: doveadm-style `roost [-c FILE] [-o key=value] VERB [SUBVERB] ...`.

/** A user-facing CLI error: printed as `roost: <message>` with a non-zero exit, never a stack. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 64, // EX_USAGE, as doveadm uses for bad arguments
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  /** Positional words (verb, sub-verb, operands). */
  positional: string[];
  /** Options by name; repeatable options keep every value. */
  options: Map<string, string[]>;
}

export interface OptionSpec {
  /** Single-letter or long names this option answers to, e.g. ['u', 'user']. */
  names: string[];
  /** Takes a value (`-u alice`) or is a flag (`-A`). */
  value: boolean;
}

/** Parses argv against the options a command accepts; unknown options are a UsageError. */
export function parseArgs(argv: string[], specs: OptionSpec[]): ParsedArgs {
  const byName = new Map<string, OptionSpec>();
  for (const s of specs) for (const n of s.names) byName.set(n, s);
  const positional: string[] = [];
  const options = new Map<string, string[]>();
  const put = (spec: OptionSpec, v: string) => {
    const key = spec.names[0];
    const list = options.get(key) ?? [];
    list.push(v);
    options.set(key, list);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    const m = /^(?:--([a-z][a-z0-9-]*)(?:=(.*))?|-([a-zA-Z]))$/.exec(a);
    if (!m) {
      positional.push(a);
      continue;
    }
    const name = m[1] ?? m[3];
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`Unknown option: ${a}`);
    if (!spec.value) {
      put(spec, 'yes');
      continue;
    }
    let v = m[2];
    if (v === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`Option ${a} needs a value`);
      v = argv[++i];
    }
    put(spec, v);
  }
  return { positional, options };
}

export function optionValue(args: ParsedArgs, name: string): string | undefined {
  const v = args.options.get(name);
  return v ? v[v.length - 1] : undefined;
}

export function requireOption(args: ParsedArgs, name: string, what: string): string {
  const v = optionValue(args, name);
  if (v === undefined || v === '') throw new UsageError(`Missing ${what} (-${name})`);
  return v;
}
