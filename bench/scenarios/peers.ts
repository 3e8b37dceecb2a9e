// The peer producer: kafkajs doing the relay's job (validate, serialise, produce keyed JSON, acks=all,
// gzip), eight sends of 100 under way, for three steps' time.
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { validateEvent } from "../../src/core/index.ts";
import { createTopic } from "../kafka-ceiling.ts";
import { STEP_SECONDS } from "../load.ts";
import { BROKERS, event, say, tenant } from "./context.ts";

export const kafkajsPeer = async () => {
  say("peer: kafkajs producer");
  const kafka = new Kafka({ clientId: "bench-kafkajs", brokers: BROKERS, logLevel: logLevel.NOTHING });
  const topic = `user-behaviors-${tenant}_kafkajs`;
  await createTopic(BROKERS, topic);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let sent = 0;
  const t0 = performance.now();
  const deadline = t0 + STEP_SECONDS * 3 * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const messages = Array.from({ length: 100 }, (_, i) => {
        const result = validateEvent({ ...event, user_id: `u${i}` });
        if (!result.ok) throw new Error("invalid");
        return {
          key: result.event.user_id,
          value: JSON.stringify(result.event),
          headers: { event_id: result.event.event_id },
        };
      });
      await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages });
      sent += messages.length;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await producer.disconnect();
  return { events_per_second: Math.round(sent / seconds) };
};
