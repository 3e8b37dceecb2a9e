import type { ConnectionOptions } from "@platformatic/kafka";
import { quarantineTopicFor, topicFor } from "../core/index.ts";
import { type TailRecord, tailTopics } from "../kafka/tail.ts";

/** Live views of tenants' topics, at most `max` at once per relay. */
export interface LiveStreams {
  /**
   * The tenant's last `last` records, then each that lands from `since` on, until `signal` aborts; with
   * `rejected`, its quarantine topic's too. Undefined when the relay already serves as many live views
   * as it allows.
   */
  open(
    tenantId: string,
    options: { rejected: boolean; last: number; since: number },
    signal: AbortSignal,
  ): AsyncIterable<TailRecord> | undefined;
}

/**
 * Each live view is a Kafka consumer of its own that commits nothing: it reads on its own connections,
 * so a watcher can slow only itself, never the writes; the bound keeps watchers from adding up.
 */
export const kafkaLiveStreams = (
  brokers: string[],
  connection: Pick<ConnectionOptions, "sasl" | "tls">,
  max: number,
): LiveStreams => {
  let active = 0;
  return {
    open(tenantId, options, signal) {
      if (active >= max) return undefined;
      active++;
      const topics = options.rejected
        ? [topicFor(tenantId), quarantineTopicFor(tenantId)]
        : [topicFor(tenantId)];
      const records = tailTopics({ brokers, topics, ...options, follow: true, signal, connection });
      return (async function* () {
        try {
          yield* records;
        } finally {
          active--;
        }
      })();
    },
  };
};
