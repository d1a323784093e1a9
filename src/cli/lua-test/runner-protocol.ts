// Messages between the main thread (host.ts) and the Lua test runner thread (runner-worker.ts).

/** Main → runner: run one test file. */
export interface RunnerRequest {
  file: string;
  /** The name errors and assertion failures show (relative to the working directory when inside it). */
  displayName: string;
  /** The source of the `roost.test` module. */
  moduleSource: string;
  /** Only tests whose name contains this text run. */
  filter?: string;
}

/** Runner → main: a `roost.test` call (args: JSON) waiting for its reply, or the end of a file. */
export type RunnerMessage = { kind: 'call'; op: string; args: string } | { kind: 'done' };
