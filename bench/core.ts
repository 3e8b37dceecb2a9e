// Micro-benchmark: validateEvent on a typical video event with its tracking config, one core.
import {
  checkEventWith,
  configFromTemplate,
  EXAMPLE_EVENTS,
  TEMPLATES,
  validateEvent,
} from "../src/core/index.ts";

const TARGET_PER_SECOND = 300_000;
const template = TEMPLATES.find((t) => t.template_id === "video");
if (template === undefined) throw new Error("video template missing");
const config = configFromTemplate(
  template,
  { tenant_id: "mymx", scenario_id: "vlog_feed", name: "Vlog" },
  Date.now(),
);
// Parsed fresh from JSON, as a server sees it; without event_id/timestamp so normalisation runs too.
const { event_id: _id, timestamp: _ts, ...event } = { ...EXAMPLE_EVENTS.video_data, event_id: "" };
const body = JSON.stringify(event);
const inputs = Array.from({ length: 1024 }, () => JSON.parse(body));

/** Operations per second of `op`, median of 7 rounds after a warm-up that lets the JIT settle. */
const measure = (op: (i: number) => boolean): number[] => {
  const round = (iterations: number): number => {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) {
      if (!op(i)) throw new Error("the benchmark event must be valid");
    }
    return iterations / ((performance.now() - start) / 1000);
  };
  round(200_000);
  return Array.from({ length: 7 }, () => round(300_000)).sort((a, b) => a - b);
};

/** events/s of validateEvent (median of 7 rounds) beside the JSON parse+stringify yardstick. */
export const measureValidation = () => {
  const samples = measure((i) => validateEvent(inputs[i & 1023], config).ok);
  const median = samples[3] ?? 0;
  // The same machine's speed at the two JSON steps every ingest path does per event anyway: a
  // yardstick that makes the figure comparable across machines (the shared CI box is slow and noisy).
  const jsonRoundTrip = measure((i) => JSON.stringify(JSON.parse(body)).length > i % 2)[3] ?? 0;
  // The whole check every path makes of an accepted event: validation and the JSON written to Kafka.
  const check = measure((i) => checkEventWith(inputs[i & 1023], null, config).ok)[3] ?? 0;
  return {
    events_per_second_median: Math.round(median),
    events_per_second_samples: samples.map(Math.round),
    target_per_second: TARGET_PER_SECOND,
    ratio_to_target: Number((median / TARGET_PER_SECOND).toFixed(2)),
    json_parse_stringify_per_second: Math.round(jsonRoundTrip),
    ratio_to_json_round_trip: Number((median / jsonRoundTrip).toFixed(2)),
    check_us_per_event: Number((1e6 / check).toFixed(2)),
  };
};
