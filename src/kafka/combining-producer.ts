import pLimit from "p-limit";
import { blameOf } from "./failure-policy.ts";
import type { EventRecord, KafkaWriteError, RecordProducer } from "./records.ts";
import type { TopicProvisioner } from "./topics.ts";

/** What the combining producer tells its metrics. */
export interface CombiningObserver {
  /** Events sent again alone after a combined request failed once it may have reached the broker. */
  resentAfterFailure(events: number): void;
  /** One produce request: combined (proven topics), new (topics never sent yet), alone (a suspect topic's), retry (a send of a failed combined request). */
  request(kind: "combined" | "new" | "alone" | "retry"): void;
  /** The topics whose sends are combined (proven) and those whose sends go alone (suspect), after a change. */
  topics(proven: number, suspect: number): void;
}

/**
 * Sends made alone under way at once, for suspect topics and, apart, for the sends of combined requests
 * that failed (so that a wave of broken tenants, each retrying until it times out, never holds back the
 * retries of the others). The client queues each send's requests on its connection, and when a
 * connection closes it fails the queued ones recursively: 10,000 queued single sends overflowed the stack
 * and took the process down. The idempotent client sends one produce request per broker at a time anyway.
 */
const ALONE_IN_FLIGHT = 16;

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

/** Sends waiting to be combined into one request, and how many of those requests are under way. */
interface Queue {
  sends: Waiting[];
  inFlight: number;
  maxInFlight: number;
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
 * A topic is proven (Kafka took a send of it), new (made or found by the TopicProvisioner, never sent
 * yet), or suspect (a send of it failed where others succeeded, Kafka refused the topic itself, or it
 * could be neither made nor found). Proven topics' sends are combined. New topics' sends are combined
 * among themselves, one request at a time, beside the proven ones. (Sending each new topic alone made a
 * cold start of 10,000 new tenants a queue of 10,000 requests, one after another, that took minutes and
 * timed out.) A suspect topic's sends go alone, so that a missing topic, whose request retries until it
 * times out, holds back no other tenant's records; until Kafka takes one.
 *
 * When a combined request fails, each of its sends is tried alone, so a failure is its own tenant's only;
 * those that fail alone while others succeed become suspect. When all fail the trouble is the cluster's
 * (unreachable, late): nobody becomes suspect, and their retries (from the lanes' spools) stay combined
 * instead of turning into thousands of single requests. A failure after the request reached the broker may
 * have left other topics' records written: those sent again alone are counted as possible duplicates
 * (`observe.resentAfterFailure`).
 */
export const combiningProducer = (
  inner: RecordProducer,
  topics: Pick<TopicProvisioner, "ensure">,
  observe: CombiningObserver,
  /** Combined requests under way at once: as many as the inner producer sends in parallel. */
  requestsInFlight: number,
): RecordProducer => {
  const proven: Queue = { sends: [], inFlight: 0, maxInFlight: requestsInFlight };
  const probation: Queue = { sends: [], inFlight: 0, maxInFlight: 1 };
  /** Topics whose last send Kafka took. */
  const provenTopics = new Set<string>();
  /** Topics whose sends go alone. */
  const suspectTopics = new Set<string>();

  const suspects = pLimit(ALONE_IN_FLIGHT);
  const retries = pLimit(ALONE_IN_FLIGHT);

  const topicsOf = (records: readonly EventRecord[]) => new Set(records.map((record) => record.topic));
  const counted = () => observe.topics(provenTopics.size, suspectTopics.size);
  const took = (records: readonly EventRecord[]) => {
    const before = provenTopics.size;
    for (const topic of topicsOf(records)) {
      provenTopics.add(topic);
      suspectTopics.delete(topic);
    }
    if (provenTopics.size !== before) counted();
  };
  /** A send failed on its own: its topics are suspect when the failure is surely theirs. */
  const failed = (records: readonly EventRecord[], error: unknown, othersSucceeded: boolean) => {
    if (!othersSucceeded && blameOf(error) !== "topic") return;
    for (const topic of topicsOf(records)) {
      provenTopics.delete(topic);
      suspectTopics.add(topic);
    }
    counted();
  };

  /** One send in a request of its own. */
  const alone = async (records: readonly EventRecord[]) => {
    try {
      await suspects(() => {
        observe.request("alone");
        return inner.send(records);
      });
    } catch (error) {
      failed(records, error, false);
      throw error;
    }
    took(records);
  };

  const next = (queue: Queue) => {
    const kind = queue === proven ? "combined" : "new";
    while (queue.inFlight < queue.maxInFlight && queue.sends.length > 0) {
      let bytes = 0;
      let taken = 0;
      for (const send of queue.sends) {
        if (taken > 0 && bytes + send.bytes > COMBINED_MAX_BYTES) break;
        bytes += send.bytes;
        taken++;
      }
      const sends = queue.sends.splice(0, taken);
      queue.inFlight++;
      observe.request(kind);
      void sendCombined(sends).finally(() => {
        queue.inFlight--;
        next(queue);
      });
    }
  };

  const sendCombined = async (sends: Waiting[]) => {
    try {
      await inner.send(sends.length === 1 ? (sends[0] as Waiting).records : sends.flatMap((s) => s.records));
    } catch (error) {
      if (sends.length === 1) {
        const [send] = sends as [Waiting];
        failed(send.records, error, false);
        send.reject(error);
        return;
      }
      // The client says what was produced once the request went out; a failure before (a topic missing
      // from the metadata, a broker out of reach) wrote nothing.
      const written =
        ((error as KafkaWriteError).cause as { produced?: unknown } | undefined)?.produced !== undefined;
      const outcomes = await Promise.allSettled(
        sends.map((send) =>
          retries(() => {
            observe.request("retry");
            return inner.send(send.records);
          }),
        ),
      );
      const someSucceeded = outcomes.some((outcome) => outcome.status === "fulfilled");
      outcomes.forEach((outcome, i) => {
        const send = sends[i] as Waiting;
        if (outcome.status === "rejected") {
          failed(send.records, outcome.reason, someSucceeded);
          send.reject(outcome.reason);
          return;
        }
        took(send.records);
        if (written) observe.resentAfterFailure(send.records.length);
        send.resolve();
      });
      return;
    }
    for (const send of sends) {
      took(send.records);
      send.resolve();
    }
  };

  return {
    send: async (records) => {
      // Each send's topics are made (when auto-creation is on) before it joins others: a new tenant's
      // topic creation holds back its own records only.
      const named = topicsOf(records);
      const there = await Promise.all([...named].map((topic) => topics.ensure(topic)));
      // A topic that could be neither made nor found is sent alone: its request retries until it times out.
      if (there.includes(false) || [...named].some((topic) => suspectTopics.has(topic)))
        return alone(records);
      const queue = [...named].every((topic) => provenTopics.has(topic)) ? proven : probation;
      return new Promise<void>((resolve, reject) => {
        let bytes = 0;
        for (const record of records) bytes += record.value.length + record.key.length;
        queue.sends.push({ records, bytes, resolve, reject });
        // Sends of one turn of the event loop go together: the lanes whose linger timers fired in it, and
        // those one call flushed at once.
        if (queue.sends.length === 1) setImmediate(() => next(queue));
      });
    },
    close: () => inner.close(),
  };
};
