// The edge (workerd) in front of the relay, with a publishable key of a tracking config: its CPU per
// call at a fixed load, then single calls and beacon bodies of 100 under a stepped open loop, and
// workerd's resident memory.
import { steppedExternal } from "../efficiency.ts";
import { startEdge } from "../stack.ts";
import {
  ADMIN,
  beacon,
  EDGE_SECRET,
  pin,
  post,
  SINGLE_RATE,
  SINGLE_SECONDS,
  say,
  single,
  tenant,
  warmed,
} from "./context.ts";
import type { BenchRelay } from "./relay.ts";

export const edgeScenario = async ({ relay }: BenchRelay) => {
  const admin = async (path: string, body: unknown) =>
    (await (
      await fetch(`${relay.httpUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
        body: JSON.stringify(body),
      })
    ).json()) as { key: string };
  await admin("/api/v1/tracking-configs/from-template", {
    tenant_id: tenant,
    scenario_id: "vlog_feed",
    template_id: "video",
    name: "Vlog",
  });
  const key = (await admin("/api/v1/api-keys", { kind: "publishable", tenant_id: tenant })).key;
  say("edge (workerd) build and start");
  const edge = await startEdge(relay.httpUrl, EDGE_SECRET);
  try {
    await pin(edge.pid());
    const collect = `${edge.url}/api/v1/behaviors/collect?key=${key}`;
    const track = `${edge.url}/api/v1/behaviors/track`;
    const trackHeaders = { "content-type": "application/json", authorization: `Bearer ${key}` };
    await post(track, single, trackHeaders, 10, 1);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const edgeIdle = edge.memory.now();
    const sampleBoth = () => {
      edge.memory.sample();
      relay.memory.sample();
    };
    // The edge's CPU is workerd's; the relay behind it is reported on its own.
    const measuredBoth = () => ({ edge: edge.pid(), relay: relay.pid() });
    say("edge CPU per call");
    const phase = await warmed(measuredBoth(), 1, () =>
      post(track, single, trackHeaders, SINGLE_RATE, SINGLE_SECONDS),
    );
    say("edge HTTP single (vegeta)");
    const httpSingle = await steppedExternal(
      (rps, seconds) => post(track, single, trackHeaders, rps, seconds),
      measuredBoth,
      { startEventsPerSecond: 200, onSample: sampleBoth },
    );
    say("edge HTTP batched (vegeta, beacon bodies of 100, text/plain)");
    const httpBatched = await steppedExternal(
      (rps, seconds) => post(collect, beacon, { "content-type": "text/plain" }, rps, seconds),
      measuredBoth,
      { startEventsPerSecond: 2000, eventsPerCall: 100, onSample: sampleBoth },
    );
    return {
      phase,
      paths: { edge_http_single: httpSingle, edge_http_batched: httpBatched },
      memory: { idle_mb: edgeIdle, peak_mb: edge.memory.peak },
    };
  } finally {
    await edge.stop();
  }
};
