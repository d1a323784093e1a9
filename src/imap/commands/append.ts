// APPEND (RFC 3501 §6.3.11) with MULTIAPPEND (RFC 3502: all or nothing), APPENDUID (RFC 4315) and
// TRYCREATE for a missing target. Big literals arrive spooled to a temp file; the MIME structure is
// parsed from the file in chunks and the store copies the file in place, so no APPEND is ever held
// whole in memory. Over-size literals are refused by the reader (NO [TOOBIG]) before they are sent.
import { closeSync, openSync, readSync } from 'node:fs';
import { imapMessageSize, parseMessage } from '../../mime/parser.js';
import type { MimePart } from '../../mime/types.js';
import { isStagedBody, type AppendInput, type StagedBody } from '../../storage/types.js';
import type { AppendMessage } from '../protocol/index.js';
import { APPEND_TOO_BIG_TEXT, BufferLiteral, formatNumberSet } from '../protocol/index.js';
import { BadUrlError, catenateMessage, CatenateTooBigError } from './catenate.js';
import { AUTHENTICATED, no, ok, type CommandHandler } from './types.js';

export const APPEND: CommandHandler<'APPEND'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    try {
      // Dovecot refuses an empty literal but stores an empty CATENATE result.
      if (cmd.messages.some((m) => !m.catenate && m.body.size === 0)) return no("Can't save a zero byte message.");
      // RFC 4469 §5: every URL is resolved before anything is saved; one bad URL fails the APPEND.
      for (const m of cmd.messages) {
        if (!m.catenate) continue;
        try {
          m.body = new BufferLiteral(await catenateMessage(session, m.catenate, session.settings.mail_max_message_size));
        } catch (err) {
          if (err instanceof BadUrlError) return no(err.message, `BADURL ${err.url}`);
          if (err instanceof CatenateTooBigError) return no(APPEND_TOO_BIG_TEXT, 'TOOBIG');
          throw err;
        }
      }
      const view = session.selected;
      const intoSelected = view !== null && !view.readOnly && (await view.currentName()) === cmd.mailbox;
      const store = session.store;
      const inputs: AppendInput[] = [];
      let saved = false;
      try {
        for (const m of cmd.messages) {
          const input = await appendInput(m, intoSelected);
          // A large body becomes a file, written and synced in the threadpool before the commit.
          input.content = await store.stageBody(input.content as Buffer | { path: string; size: number });
          inputs.push(input);
        }
        // APPENDUID only once the commit is durable; the fsync runs off the event loop.
        const results = await store.durably(async (s) => (inputs.length === 1 ? [await s.append(cmd.mailbox, inputs[0]!)] : await s.appendMany(cmd.mailbox, inputs)));
        saved = true;
        // The appending session owns \Recent for what it appended into its own selected mailbox.
        if (intoSelected) for (const r of results) view!.markRecent(r.uid);
        const uidValidity = results[0]!.uidValidity;
        return ok('Append completed.', `APPENDUID ${uidValidity} ${formatNumberSet(results.map((r) => r.uid))}`);
      } finally {
        // Staged files no committed message refers to (a failed APPEND, e.g. TRYCREATE).
        if (!saved) for (const i of inputs) if (isStaged(i.content)) await i.content.discard();
      }
    } finally {
      for (const m of cmd.messages) {
        await m.body.dispose();
        for (const part of m.catenate ?? []) if (part.type === 'text') await part.body.dispose();
      }
    }
  },
};

export async function appendInput(m: AppendMessage, recentForSession: boolean): Promise<AppendInput> {
  const flags = m.flags.filter((f) => f.toLowerCase() !== '\\recent');
  const internalDate = m.internalDate?.date;
  if (m.body.path && m.body.ready) {
    await m.body.ready();
    const mimeStructure = parseFile(m.body.path, m.body.size);
    const content = { path: m.body.path, size: m.body.size };
    return { content, flags, internalDate, recentForSession, mimeStructure, virtualSize: imapMessageSize(mimeStructure) };
  }
  const content = await m.body.toBuffer();
  const mimeStructure = parseMessage(content);
  return { content, flags, internalDate, recentForSession, mimeStructure, virtualSize: imapMessageSize(mimeStructure) };
}

/** The MIME tree of a spooled message, read through the file in chunks. */
function parseFile(path: string, size: number): MimePart {
  const fd = openSync(path, 'r');
  try {
    return parseMessage({
      size,
      read(offset: number, length: number): Buffer {
        const n = Math.max(0, Math.min(length, size - offset));
        const buf = Buffer.allocUnsafe(n);
        let got = 0;
        while (got < n) {
          const r = readSync(fd, buf, got, n - got, offset + got);
          if (r === 0) break;
          got += r;
        }
        return got === n ? buf : buf.subarray(0, got);
      },
    });
  } finally {
    closeSync(fd);
  }
}

export function isStaged(c: AppendInput['content']): c is StagedBody {
  return isStagedBody(c);
}
