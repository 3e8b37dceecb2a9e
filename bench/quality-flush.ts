// The quality counts' flush at platform scale: 10,000 tenant × scenario cells written to the store the
// way a relay writes them (QualityRepository.add: one `$inc` upsert per tenant and hour), whole and in the parts of
// QUALITY_FLUSH_MAX_CELLS, with the time a small read waits meanwhile (what the admin API would feel).
//   MONGODB_URI=mongodb://127.0.0.1:27017 sh scripts/with-node.sh node bench/quality-flush.ts
// Writes bench/results/<date>-quality-flush.json; docs/quality.md quotes the last run.
import { emptyCounts, hourOf } from "../src/core/index.ts";
import { MongoConnection } from "../src/relay/store/mongo.ts";
import { QualityRepository } from "../src/relay/store/quality.ts";
import { resultsOf } from "./record-results.ts";

const CELLS = Number(process.env.CELLS ?? 10_000);
const PARTS = [200, 1000];
const uri = process.env.MONGODB_URI ?? "mongodb://127.0.0.1:27017";
const store = new MongoConnection({
  uri,
  database: `bench_quality_${Date.now().toString(36)}`,
  poolSize: 10,
  deadlineMs: 5_000,
  socketTimeoutMs: 600_000,
});
const repository = new QualityRepository(store);
await repository.ensureIndexes();
const hour = hourOf(Date.now());
const cells = Array.from({ length: CELLS }, (_, i) => {
  const counts = emptyCounts();
  counts.received = 100;
  counts.accepted = 98;
  counts.refused = 2;
  counts.reasons = { invalid_event: 2 };
  counts.answers[2] = 1;
  return {
    tenantId: `tenant_${Math.floor(i / 5)}`,
    hour,
    source: "relay" as const,
    scenario: `scenario_${i % 5}`,
    producer: "",
    validated: true,
    counts,
  };
});

/** Writes `cells` in parts of `part`, and reads one document meanwhile, every 50 ms. */
const flushInParts = async (part: number) => {
  let writing = true;
  const reads: number[] = [];
  const reader = (async () => {
    while (writing) {
      const started = performance.now();
      // A read that misses the store's deadline (5 s here) counts as waiting that long.
      await repository.read("tenant_0", hour - 168 * 3_600_000, hour).catch(() => undefined);
      reads.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const parts: number[] = [];
  const started = performance.now();
  for (let i = 0; i < cells.length; i += part) {
    const partStarted = performance.now();
    await repository.add(cells.slice(i, i + part), []);
    parts.push(performance.now() - partStarted);
    if (parts.length % 10 === 1)
      console.log(`part ${parts.length} of ${part} cells: ${Math.round(parts.at(-1) ?? 0)} ms`);
  }
  const total = performance.now() - started;
  writing = false;
  await reader;
  return {
    cells_per_part: part,
    total_ms: Math.round(total),
    ms_per_cell: +(total / cells.length).toFixed(3),
    longest_part_ms: Math.round(Math.max(...parts)),
    read_during_flush_max_ms: Math.round(Math.max(...reads)),
  };
};

const runs = [];
for (const part of PARTS) runs.push(await flushInParts(part));
const result = { uri: uri.replace(/\/\/[^@]*@/, "//"), cells: CELLS, runs };
console.log(JSON.stringify(result, null, 2));
await store.close();
resultsOf("quality-flush")(result);
