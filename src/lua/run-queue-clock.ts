// How long a worker thread has waited for a CPU: Linux's /proc/<pid>/task/<tid>/schedstat
// (Documentation/scheduler/sched-stats.rst: "time spent on the cpu", "time spent waiting on a
// runqueue", in ns). The pool uses it to tell a call that runs long (a looping script, a blocking
// host call: time not spent waiting for a CPU) from one that only waited for a CPU on a busy
// machine, which more worker threads would not help. One pread of the open file per reading
// (~2 µs); null where the file does not exist (not Linux, schedstats off).
import { closeSync, openSync, readSync } from 'node:fs';

export class RunQueueClock {
  private readonly buf = Buffer.alloc(96);

  private constructor(private fd: number | null) {}

  static forThread(tid: number | undefined): RunQueueClock | null {
    if (tid === undefined) return null;
    let fd: number;
    try {
      fd = openSync(`/proc/self/task/${tid}/schedstat`, 'r');
    } catch {
      return null;
    }
    const clock = new RunQueueClock(fd);
    if (clock.waitedMs() === undefined) {
      clock.close();
      return null;
    }
    return clock;
  }

  /** Total time the thread has waited on a run queue, ms; undefined when it cannot be read. */
  waitedMs(): number | undefined {
    if (this.fd === null) return undefined;
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      const fields = this.buf.toString('latin1', 0, n).split(' ');
      const ns = Number(fields[1]);
      return Number.isFinite(ns) ? ns / 1e6 : undefined;
    } catch {
      return undefined;
    }
  }

  close(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = null;
  }
}
