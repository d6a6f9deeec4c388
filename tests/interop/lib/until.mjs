// Waiting for a condition that is only observable by looking again.

/**
 * Polls `cond` (a cheap in-process check) every 50 ms until it holds; throws with `what`
 * after `timeoutMs`.
 */
export async function until(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() >= deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Like until(), for a condition that must ask something (an OCPP call, an HTTP request):
 * awaits `cond` again 50 ms after each answer until it resolves truthy; throws with `what`
 * after `timeoutMs`.
 */
export async function eventually(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() >= deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
