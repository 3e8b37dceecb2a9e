/**
 * Time as the write path sees it: its linger, ack deadlines, replay backoff and close deadline. A port,
 * so that unit tests step through seconds of timing rules in microseconds with a clock of their own
 * (test/support/manual-clock.ts) instead of waiting for them.
 */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
  /** Calls `run` once, `ms` from now; the handle cancels it. */
  schedule(run: () => void, ms: number): () => void;
  /** Resolves `ms` from now. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule: (run, ms) => {
    const timer = setTimeout(run, ms);
    return () => clearTimeout(timer);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
