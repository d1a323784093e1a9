import { CommandReader, memorySinkFactory, parseCommand, type ParseOptions, type ParseResult } from '../../../src/imap/protocol/index.js';

/** Reads one command from raw bytes (fed byte by byte when `bytewise`) and parses it. */
export function parseRaw(raw: string, options: ParseOptions = {}, bytewise = false): ParseResult {
  const reader = new CommandReader({ sendContinuation: () => undefined, sinkFactory: memorySinkFactory() });
  const bytes = Buffer.from(raw, 'utf8');
  const chunks = bytewise ? Array.from(bytes, (b) => Buffer.from([b])) : [bytes];
  for (const chunk of chunks) {
    reader.push(chunk);
    const ev = reader.next();
    if (!ev) continue;
    if (ev.kind === 'command') return parseCommand(ev.tag, ev.name, ev.args, options);
    if (ev.kind === 'error') return { ok: false, error: ev.error };
  }
  throw new Error(`incomplete command: ${JSON.stringify(raw)}`);
}

/** The parsed command, failing the test with the error text otherwise. */
export function cmd(raw: string, options: ParseOptions = {}) {
  const r = parseRaw(raw, options);
  if (!r.ok) throw new Error(`${raw.trim()} → ${r.error.status} ${r.error.text}`);
  return r.command;
}

/** `BAD reason` / `NO reason` for a command that must fail. */
export function err(raw: string, options: ParseOptions = {}): string {
  const r = parseRaw(raw, options);
  if (r.ok) throw new Error(`${raw.trim()} parsed: ${JSON.stringify(r.command)}`);
  return `${r.error.status} ${r.error.text}`;
}
