// The auditor against the relay's write rate: how fast it re-checks a backlog, its CPU per record, and
// its lag while the relay writes at a steady rate. In the bench's own process (its CPU is this
// process's); the relay and the generator are processes of their own.
import { pino } from "pino";
import { Registry } from "prom-client";
import { startAuditor } from "../src/auditor/auditor.ts";
import { QualityRecorder } from "../src/relay/quality.ts";
import type { GeneratorRun } from "./generators.ts";

export interface AuditorResult {
  backlog_records: number;
  catch_up_records_per_second: number;
  us_per_record: number;
  steady_write_events_per_second: number;
  steady_read_records_per_second: number;
  lag_max_records: number;
  lag_end_records: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `write(rps, seconds)` writes batches of 100 events of `tenant` through the relay (rps 0: as fast as
 * it goes). First a backlog, then the auditor reads it, then the relay writes at `steadyRate` for
 * `steadySeconds` while the auditor keeps up (or not).
 */
export const auditorBench = async (options: {
  brokers: string[];
  tenant: string;
  write: (rps: number, seconds: number) => Promise<GeneratorRun>;
  steadyRate: number;
  steadySeconds: number;
}): Promise<AuditorResult> => {
  const backlog = (await options.write(0, 6)).ok * 100;
  const configs = { current: async () => undefined, version: async () => undefined };
  const quality = new QualityRecorder({ registry: new Registry(), log: pino({ level: "silent" }) });
  const auditor = startAuditor({
    brokers: options.brokers,
    groupId: `bench-auditor-${Date.now().toString(36)}`,
    topics: new RegExp(`^user-behaviors-${options.tenant}$`),
    configs,
    quality,
    // The relay writes only events: nothing is unreadable here.
    quarantine: async () => undefined,
    registry: new Registry(),
    log: pino({ level: "warn" }),
    discoverMs: 1000,
  });
  try {
    const cpu = process.cpuUsage();
    const started = performance.now();
    while (auditor.audited < backlog && performance.now() - started < 120_000) await sleep(100);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const caughtUp = auditor.audited;
    // Steady: the relay writes while the auditor reads; the lag is sampled every second.
    const lags: number[] = [];
    const sampling = setInterval(() => lags.push(auditor.lag), 1000);
    const before = auditor.audited;
    const t0 = performance.now();
    // Calls of 100 events at a whole number of calls per second (what the generator takes).
    const written =
      (await options.write(Math.max(1, Math.round(options.steadyRate / 100)), options.steadySeconds)).ok *
      100;
    await sleep(2000); // the last lag measurement after the writes
    clearInterval(sampling);
    const readSeconds = (performance.now() - t0) / 1000;
    return {
      backlog_records: backlog,
      catch_up_records_per_second: Math.round(caughtUp / seconds),
      us_per_record: +((used.user + used.system) / Math.max(1, caughtUp)).toFixed(1),
      steady_write_events_per_second: Math.round(written / options.steadySeconds),
      steady_read_records_per_second: Math.round((auditor.audited - before) / readSeconds),
      lag_max_records: Math.max(0, ...lags),
      lag_end_records: lags.at(-1) ?? 0,
    };
  } finally {
    await auditor.close();
  }
};
