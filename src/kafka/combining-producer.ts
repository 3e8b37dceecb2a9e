import type { EventRecord, KafkaWriteError, RecordProducer } from "./records.ts";
import type { TopicProvisioner } from "./topics.ts";

/** Produce requests of combined sends under way at once: one retrying stuck topic does not hold the rest. */
const REQUESTS_IN_FLIGHT = 4;

/**
 * Most bytes of records in one combined request. Kafka bounds each partition's record batch
 * (`message.max.bytes`, which the lanes respect), the request as a whole only by `socket.request.max.bytes`
 * (100 MB); this keeps one request's answer time near a single batch's.
 */
const COMBINED_MAX_BYTES = 4 * 1024 * 1024;

interface Waiting {
  records: readonly EventRecord[];
  bytes: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Sends of different topics that wait together go to Kafka in one produce request; each send's topics are
 * created first when they are new (TopicProvisioner). The write path keeps
 * one lane per topic (a tenant's order, its own spool), and each lane sends its own records; a call whose
 * events span 100 tenants made 100 produce requests, which the idempotent client sends one after another
 * per broker: 100 active tenants cost 2× the CPU per event of one and queued past every timeout. Combined,
 * the requests stay as few as with one tenant. Each lane still has at most one send under way, so order
 * within a topic is unchanged.
 *
 * Only topics Kafka has taken a send for are combined: a new topic's sends, and those of a topic whose last
 * send failed, go alone (and outside the limit on requests in flight), so a missing topic, whose requests
 * retry until they time out, never holds back another tenant's records. When a combined request fails all
 * the same (a topic that went bad since), each of its sends is tried alone, so the failure is that
 * tenant's only. A failure after the request reached the broker may have left other topics' records
 * written: those sent again alone are counted by `onResentAfterFailure` as possible duplicates.
 */
export const combiningProducer = (
  inner: RecordProducer,
  topics: Pick<TopicProvisioner, "ensure">,
  onResentAfterFailure: (events: number) => void,
): RecordProducer => {
  const waiting: Waiting[] = [];
  let inFlight = 0;
  /** Topics whose last send Kafka took. */
  const proven = new Set<string>();

  const topicsOf = (records: readonly EventRecord[]) => new Set(records.map((record) => record.topic));
  /** One send in a request of its own; its topics are proven or not by how it went. */
  const alone = async (records: readonly EventRecord[]) => {
    try {
      await inner.send(records);
    } catch (error) {
      for (const topic of topicsOf(records)) proven.delete(topic);
      throw error;
    }
    for (const topic of topicsOf(records)) proven.add(topic);
  };
  const sendAlone = (send: Waiting) => alone(send.records).then(send.resolve, send.reject);

  const next = () => {
    while (inFlight < REQUESTS_IN_FLIGHT && waiting.length > 0) {
      let bytes = 0;
      let taken = 0;
      for (const send of waiting) {
        if (taken > 0 && bytes + send.bytes > COMBINED_MAX_BYTES) break;
        bytes += send.bytes;
        taken++;
      }
      const sends = waiting.splice(0, taken);
      inFlight++;
      const done = sends.length === 1 ? sendAlone(sends[0] as Waiting) : sendCombined(sends);
      void done.finally(() => {
        inFlight--;
        next();
      });
    }
  };

  const sendCombined = async (sends: Waiting[]) => {
    try {
      await inner.send(sends.flatMap((send) => send.records));
    } catch (error) {
      // The client says what was produced once the request went out; a failure before (a topic missing
      // from the metadata, a broker out of reach) wrote nothing.
      const written =
        ((error as KafkaWriteError).cause as { produced?: unknown } | undefined)?.produced !== undefined;
      await Promise.all(
        sends.map((send) =>
          alone(send.records).then(() => {
            if (written) onResentAfterFailure(send.records.length);
            send.resolve();
          }, send.reject),
        ),
      );
      return;
    }
    for (const send of sends) send.resolve();
  };

  return {
    send: async (records) => {
      // Each send's topics are made (when auto-creation is on) before it joins others: a new tenant's
      // topic creation holds back its own records only.
      const named = topicsOf(records);
      await Promise.all([...named].map((topic) => topics.ensure(topic)));
      if ([...named].some((topic) => !proven.has(topic))) return alone(records);
      return new Promise<void>((resolve, reject) => {
        let bytes = 0;
        for (const record of records) bytes += record.value.length + record.key.length;
        waiting.push({ records, bytes, resolve, reject });
        // Sends of one turn of the event loop go together: the lanes whose linger timers fired in it, and
        // those one call flushed at once.
        if (waiting.length === 1) setImmediate(next);
      });
    },
    close: () => inner.close(),
  };
};
