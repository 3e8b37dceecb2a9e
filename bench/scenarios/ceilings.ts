// Kafka's own Java producer (ProducerPerformance, records of the bench event's size) as fast as it goes,
// the ceiling of every path; and again at the rate where the relay's gRPC single latency was measured,
// alone on the machine: the p99 an acknowledged event cannot beat here (the latency floor).
import { producerLatencyAt, producerPerformance } from "../kafka-ceiling.ts";
import { BROKERS, RECORD_BYTES, say, tenant } from "./context.ts";

/** `relayHalfLoad`: the offered events/s of the relay's gRPC single latency phase, if it ran. */
export const ceilingsScenario = async (relayHalfLoad: number | undefined) => {
  const ceilings: Record<string, unknown> = {};
  say("ceiling: Kafka ProducerPerformance");
  ceilings.kafka_producer_performance = await producerPerformance(BROKERS, `${tenant}_ceiling`, RECORD_BYTES);
  if (relayHalfLoad !== undefined) {
    say(`floor: Kafka ProducerPerformance latency at ${relayHalfLoad} records/s`);
    ceilings.kafka_latency_at_relay_half_load = await producerLatencyAt(
      BROKERS,
      `${tenant}_floor`,
      RECORD_BYTES,
      relayHalfLoad,
    );
  }
  return ceilings;
};
