import { onTestFinished, vi } from 'vitest';

/**
 * Moves this process's wall clock forward by `ms` for the rest of the test, instead of waiting
 * for it. Only `Date` is faked, and it keeps ticking: timers, sockets and databases run in real
 * time. Servers from startTestServer run in this process, so they see the time pass.
 */
export function advanceWallClock(ms: number): void {
  if (!vi.isFakeTimers()) {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    onTestFinished(() => void vi.useRealTimers());
  }
  vi.setSystemTime(Date.now() + ms);
}
