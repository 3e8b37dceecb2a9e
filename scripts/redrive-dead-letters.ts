// `npm run redrive-dead-letters`: sends the records of SPOOL_DIR/dead-letter.ndjson — those Kafka refused
// for good even in their quarantine topic — to Kafka again, once the cause (a topic's max.message.bytes,
// a broker policy) is fixed. Reads the relay's settings (KAFKA_*, SPOOL_DIR) from the environment.
// Records refused again go back to the file; on any other failure the rest is kept there too.
import { readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { Admin } from "@platformatic/kafka";
import { fileDeadLetters } from "../src/kafka/dead-letters.ts";
import { platformaticProducer } from "../src/kafka/producer.ts";
import type { EventRecord } from "../src/kafka/records.ts";
import { TopicProvisioner } from "../src/kafka/topics.ts";
import { DEAD_LETTER_FILE } from "../src/kafka/writer.ts";
import { kafkaConnection, loadSettings, topicSettingsOf } from "../src/relay/config.ts";

const settings = loadSettings(process.env);
const path = join(settings.SPOOL_DIR, DEAD_LETTER_FILE);
const working = `${path}.${process.pid}.redriving`;
try {
  await rename(path, working);
} catch (error) {
  if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  console.log(`nothing to re-drive: ${path} does not exist`);
  process.exit(0);
}
const entries = (await readFile(working, "utf8"))
  .split("\n")
  .filter(Boolean)
  .map((line) => {
    const e = JSON.parse(line) as { t: string; k: string; v: string; id: string; reason: string };
    return { record: { topic: e.t, key: e.k, value: e.v, eventId: e.id } as EventRecord, reason: e.reason };
  });
const connection = kafkaConnection(settings);
const admin = new Admin({
  clientId: settings.KAFKA_CLIENT_ID,
  bootstrapBrokers: settings.KAFKA_BROKERS,
  ...connection,
});
const producer = platformaticProducer({
  clientId: settings.KAFKA_CLIENT_ID,
  brokers: settings.KAFKA_BROKERS,
  connection,
  compression: settings.KAFKA_COMPRESSION,
  requestTimeoutMs: settings.KAFKA_REQUEST_TIMEOUT_MS,
  retryForMs: settings.KAFKA_ACK_TIMEOUT_MS,
});
const topics = new TopicProvisioner(admin, topicSettingsOf(settings));
const deadLetters = fileDeadLetters(path);
let sent = 0;
let refused = 0;
let failure: unknown;
for (const [index, entry] of entries.entries()) {
  try {
    await topics.ensure(entry.record.topic);
    await producer.send([entry.record]);
    sent++;
  } catch (error) {
    if ((error as { kind?: string }).kind === "record") {
      await deadLetters.append([{ record: entry.record, reason: (error as { reason: string }).reason }]);
      refused++;
      continue;
    }
    await deadLetters.append(entries.slice(index));
    failure = error;
    break;
  }
}
await rm(working);
await producer.close();
await admin.close();
console.log(`re-drove ${sent} of ${entries.length} dead letters; ${refused} refused again`);
if (failure !== undefined) {
  console.error(`stopped: ${(failure as Error).message}; the rest stays in ${path}`);
  process.exit(1);
}
