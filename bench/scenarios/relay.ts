// The relay's four paths, gRPC and REST, single calls and batches of 100: CPU per event at a fixed load,
// then each path's sustained load under a stepped open loop, and the relay's resident memory.
import { type CpuPhase, steppedExternal } from "../efficiency.ts";
import type { SteppedResult } from "../load.ts";
import { startRelay } from "../stack.ts";
import {
  ADMIN,
  BATCH_CALLS,
  BATCH_SECONDS,
  BROKERS,
  beacon,
  cpuList,
  EDGE_SECRET,
  grpcBatched,
  grpcSingle,
  jsonHeaders,
  KEY,
  pinned,
  post,
  SINGLE_RATE,
  SINGLE_SECONDS,
  say,
  single,
  tenant,
  warmed,
} from "./context.ts";

export interface BenchRelay {
  relay: Awaited<ReturnType<typeof startRelay>>;
  grpcTarget: string;
  /** Its resident memory once warmed up, before any load. */
  idleMb: number;
}

/** Runs `use` with the relay that the relay, auditor and edge scenarios share, warmed up, then stops it. */
export const withBenchRelay = async <T>(use: (relay: BenchRelay) => Promise<T>) => {
  const relay = await startRelay(
    {
      KAFKA_BROKERS: BROKERS.join(","),
      RELAY_API_KEYS: `${KEY}=*`,
      ADMIN_TOKEN: ADMIN,
      EDGE_SECRET,
      MONGODB_DB: tenant,
      // Every benchmark event is the same user's: measure the keyed path, not the hot-key spreading.
      HOT_KEY_EVENTS_PER_SECOND: "0",
      // The benchmark looks for the relay's limit, not the rate limiter's.
      RATE_LIMIT_KEY_EVENTS_PER_SECOND: "1000000000",
      RATE_LIMIT_TENANT_EVENTS_PER_SECOND: "1000000000",
    },
    pinned,
  );
  try {
    const grpcTarget = relay.grpcUrl.replace("http://", "");
    await grpcSingle(grpcTarget, 10, 1); // provisions the topic
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return await use({ relay, grpcTarget, idleMb: relay.memory.now() });
  } finally {
    await relay.stop();
  }
};

export const relayScenario = async ({ relay, grpcTarget, idleMb }: BenchRelay) => {
  const phases: Record<string, CpuPhase> = {};
  const paths: Record<string, SteppedResult> = {};
  const onSample = relay.memory.sample;
  const measured = () => ({ relay: relay.pid() });
  const restUrl = `${relay.httpUrl}/api/v1/behaviors/track`;
  const restBatchUrl = `${relay.httpUrl}/api/v1/behaviors/track/batch`;
  const sampling = setInterval(onSample, 250);
  try {
    say(`relay CPU per event (pinned to CPU ${cpuList ?? "none"})`);
    phases.relay_grpc_single = await warmed(measured(), 1, () =>
      grpcSingle(grpcTarget, SINGLE_RATE, SINGLE_RATE * SINGLE_SECONDS),
    );
    phases.relay_grpc_batched = await warmed(measured(), 100, () => grpcBatched(grpcTarget, 0, BATCH_CALLS));
    phases.relay_rest_single = await warmed(measured(), 1, () =>
      post(restUrl, single, jsonHeaders, SINGLE_RATE, SINGLE_SECONDS),
    );
    phases.relay_rest_batched = await warmed(measured(), 100, () =>
      post(restBatchUrl, beacon, jsonHeaders, 0, BATCH_SECONDS),
    );
  } finally {
    clearInterval(sampling);
  }
  say("relay gRPC single (ghz)");
  paths.relay_grpc_single = await steppedExternal(
    (rps, seconds) => grpcSingle(grpcTarget, rps, rps * seconds),
    measured,
    { startEventsPerSecond: 200, onSample },
  );
  say("relay gRPC batched (ghz, 100 per call)");
  paths.relay_grpc_batched = await steppedExternal(
    (rps, seconds) => grpcBatched(grpcTarget, rps, rps * seconds),
    measured,
    { startEventsPerSecond: 2000, eventsPerCall: 100, onSample },
  );
  say("relay REST single (vegeta)");
  paths.relay_rest_single = await steppedExternal(
    (rps, seconds) => post(restUrl, single, jsonHeaders, rps, seconds),
    measured,
    { startEventsPerSecond: 200, onSample },
  );
  say("relay REST batched (vegeta, 100 per call)");
  paths.relay_rest_batched = await steppedExternal(
    (rps, seconds) => post(restBatchUrl, beacon, jsonHeaders, rps, seconds),
    measured,
    { startEventsPerSecond: 2000, eventsPerCall: 100, onSample },
  );
  return { phases, paths, memory: { idle_mb: idleMb, peak_mb: relay.memory.peak } };
};
