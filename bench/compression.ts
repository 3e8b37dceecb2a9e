// What compressing a topic's record batch costs the producer, by codec and batch size: the batch is built
// by `@platformatic/kafka`'s own `createRecordsBatch` (what every produce request runs, per partition),
// from the relay's records (a stored event with its headers), in this process, with nothing else running.
// For each codec and 1, 10, 100 and 1,000 records per batch: CPU per record (from process.cpuUsage, over
// at least a second of batches) beside the batch uncompressed, and the bytes per record on the wire.
//   npm run bench:compression
// Writes bench/results/<date>-compression.json; docs/performance.md ("Compression") quotes it.
import { createRecordsBatch } from "@platformatic/kafka";
import { EXAMPLE_EVENTS } from "../src/core/index.ts";
import { resultsOf } from "./record-results.ts";

const CODECS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
const SIZES = [1, 10, 100, 1000];
const MIN_SECONDS = Number(process.env.SECONDS ?? 1);

/** Records as the relay writes them: the event's JSON (each a different user and id), key, headers. */
const recordsOf = (count: number) =>
  Array.from({ length: count }, (_, i) => {
    const event = {
      ...EXAMPLE_EVENTS.video_data,
      event_id: `evt_${i.toString(36)}_${Math.random().toString(36).slice(2, 10)}`,
      user_id: `u_${(i * 7919) % 100_000}`,
      timestamp: Date.now() + i,
      config_version: 3,
      received_at: Date.now(),
    };
    return {
      key: Buffer.from(event.user_id),
      value: Buffer.from(JSON.stringify(event)),
      headers: new Map([
        [Buffer.from("event_id"), Buffer.from(event.event_id)],
        [Buffer.from("validated_by"), Buffer.from("behavior-relay")],
      ]),
      topic: "user-behaviors-bench",
      timestamp: BigInt(Date.now()),
    };
  });

const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** CPU µs per record and wire bytes per record of batches of `size` records compressed with `codec`. */
const measure = (codec: (typeof CODECS)[number], size: number) => {
  const records = recordsOf(size);
  const options = { compression: codec, producerId: 1n, producerEpoch: 0, firstSequence: 0 };
  const bytes = createRecordsBatch(records, options).length;
  for (let i = 0; i < 50; i++) createRecordsBatch(records, options); // warm up
  let batches = 0;
  const started = cpuMicros();
  const wallStarted = performance.now();
  while (performance.now() - wallStarted < MIN_SECONDS * 1000) {
    for (let i = 0; i < 20; i++) createRecordsBatch(records, options);
    batches += 20;
  }
  const cpu = cpuMicros() - started;
  return {
    us_per_record: +(cpu / (batches * size)).toFixed(2),
    bytes_per_record: +(bytes / size).toFixed(1),
  };
};

const record = resultsOf("compression");
const results: Record<string, Record<string, { us_per_record: number; bytes_per_record: number }>> = {};
for (const size of SIZES) {
  results[size] = {};
  for (const codec of CODECS) {
    (results[size] as Record<string, unknown>)[codec] = measure(codec, size);
    console.log(JSON.stringify({ records_per_batch: size, codec, ...results[size]?.[codec] }));
  }
}
record({
  date: new Date().toISOString(),
  node: process.version,
  method: `createRecordsBatch of @platformatic/kafka, at least ${MIN_SECONDS} s of batches per cell, CPU from process.cpuUsage`,
  record_bytes: Buffer.byteLength(JSON.stringify(EXAMPLE_EVENTS.video_data)),
  results,
});
