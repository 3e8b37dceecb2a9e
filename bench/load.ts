// Load generation shared by the benchmarks: a closed loop to find a path's peak, an open loop at a fixed
// offered rate to measure latency without coordinated omission, and percentiles.

export const PHASE_SECONDS = Number(process.env.BENCH_PHASE_SECONDS ?? 10);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

export const latencySummary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    p50_ms: +percentile(sorted, 0.5).toFixed(2),
    p99_ms: +percentile(sorted, 0.99).toFixed(2),
    p999_ms: +percentile(sorted, 0.999).toFixed(2),
  };
};

/** `concurrency` callers back to back for a phase; `call` returns how many events it carried. */
export async function closedLoop(
  call: () => Promise<number>,
  concurrency: number,
  onSample: () => void = () => {},
) {
  const latencies: number[] = [];
  let events = 0;
  const deadline = performance.now() + PHASE_SECONDS * 1000;
  const started = performance.now();
  const sampler = setInterval(onSample, 200);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const count = await call(); // not `events += await call()`: that reads `events` before awaiting
        events += count;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  clearInterval(sampler);
  return {
    events_per_second: Math.round(events / ((performance.now() - started) / 1000)),
    ...latencySummary(latencies),
  };
}

/** Calls at a fixed rate for a phase; latency counts from when each call was due, so stalls are not hidden. */
export async function openLoop(call: () => Promise<unknown>, ratePerSecond: number) {
  const latencies: number[] = [];
  const started = performance.now();
  const pending: Promise<void>[] = [];
  let errors = 0;
  for (let i = 0; i < Math.round(ratePerSecond * PHASE_SECONDS); i++) {
    const due = started + (i * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      call().then(
        () => {
          latencies.push(performance.now() - due);
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(pending);
  return { offered_per_second: ratePerSecond, errors, ...latencySummary(latencies) };
}

/** Polls `url` until it answers 2xx. */
export const waitForHttp = async (url: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer`);
};
