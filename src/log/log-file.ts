// A log file kept open, as Dovecot's log process keeps its files: one write(2) per line rather
// than open, write and close. The file is opened on the first line (O_APPEND, so other processes
// such as `roost deliver` can append to the same file) and stays open until reopen() or close().
// After logrotate renames it, `roost log reopen` or SIGUSR1 opens the path again (Dovecot:
// `doveadm log reopen`, SIGUSR1 to the master); until then lines go on into the renamed file.
import { closeSync, openSync, writeSync } from 'node:fs';

export class LogFile {
  private fd: number | null = null;

  constructor(readonly path: string) {}

  /** Appends `text`; throws what open(2) or write(2) throws, as appendFileSync did. */
  write(text: string): void {
    this.fd ??= openSync(this.path, 'a');
    try {
      writeSync(this.fd, text);
    } catch {
      // The descriptor went bad under us (closed by someone else, a filesystem error): once more
      // on a fresh one; a second failure is the caller's.
      this.reopen();
      this.fd = openSync(this.path, 'a');
      writeSync(this.fd, text);
    }
  }

  /** Closes the file; the next line opens the path again (a rotated file's successor). */
  reopen(): void {
    this.close();
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      closeSync(fd);
    } catch {
      // already closed: nothing to release
    }
  }
}
