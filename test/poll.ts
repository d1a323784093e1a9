// Waiting for a condition in tests: poll it instead of sleeping a fixed time, so a busy machine
// makes a test slower, never red. The bound only stops a test whose condition never comes true.
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
