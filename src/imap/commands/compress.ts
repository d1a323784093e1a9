// COMPRESS (RFC 4978): `COMPRESS DEFLATE` turns both directions of the connection into raw deflate
// right after the tagged OK. Replies as Dovecot 2.3.19's imap_zlib plugin gives them.
import { AUTHENTICATED, no, ok, type CommandHandler } from './types.js';

export const COMPRESS: CommandHandler<'COMPRESS'> = {
  states: AUTHENTICATED,
  async run(session, _tag, cmd) {
    if (session.compressionActive) return no('COMPRESSION=DEFLATE already enabled', 'COMPRESSIONACTIVE');
    if (cmd.mechanism !== 'DEFLATE') return no('Unknown compression mechanism');
    return { ...ok('Begin compression.'), afterReply: () => session.startCompression() };
  },
};
