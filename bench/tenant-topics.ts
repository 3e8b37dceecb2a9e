// The tenants' topics of the tenants bench (bench/tenants.ts) in Kafka: the records they hold, and their
// deletion at the end of a run.
import { Admin, Consumer } from "@platformatic/kafka";
import { topicFor } from "../src/core/index.ts";

/** The sum of the end offsets of the tenants' topics: the records Kafka holds for them. */
export const recordsIn = async (brokers: string[], groupId: string, tenants: readonly string[]) => {
  const consumer = new Consumer({
    clientId: "bench-tenants",
    groupId,
    bootstrapBrokers: brokers,
  });
  try {
    let total = 0;
    for (let i = 0; i < tenants.length; i += 500) {
      const topics = tenants.slice(i, i + 500).map(topicFor);
      // A topic not made yet holds nothing (a list with one unknown topic fails whole: then one by one).
      const ends: bigint[][] = await consumer.listOffsets({ topics }).then(
        (found) => [...found.values()],
        () =>
          Promise.all(
            topics.map((topic) =>
              consumer.listOffsets({ topics: [topic] }).then(
                (found) => found.get(topic) ?? [],
                () => [],
              ),
            ),
          ),
      );
      for (const offsets of ends) for (const end of offsets) total += Number(end);
    }
    return total;
  } finally {
    await consumer.close(true);
  }
};

/**
 * Deletes the tenants' topics: a broker that kept every run's topics (10,000s of partitions on a 2-core
 * machine) spent a core on them and slowed every later run.
 */
export const deleteTopics = async (brokers: string[], tenants: readonly string[]) => {
  const admin = new Admin({ clientId: "bench-tenants", bootstrapBrokers: brokers });
  try {
    for (let i = 0; i < tenants.length; i += 500)
      await admin.deleteTopics({ topics: tenants.slice(i, i + 500).map(topicFor) }).catch(() => undefined);
  } finally {
    await admin.close();
  }
};
