import { describe, expect, it } from "vitest";
import { combiningProducer } from "../../../src/kafka/combining-producer.ts";
import { MemoryProducer } from "../../../src/kafka/memory.ts";
import { type EventRecord, KafkaWriteError } from "../../../src/kafka/records.ts";

const record = (topic: string, id: string): EventRecord => ({ topic, key: "u", value: "{}", eventId: id });

const setUp = () => {
  const kafka = new MemoryProducer();
  const ensured: string[] = [];
  let resent = 0;
  const requests: string[] = [];
  const states = { proven: 0, suspect: 0 };
  const producer = combiningProducer(
    kafka,
    {
      ensure: async (topic) => {
        ensured.push(topic);
        return !topic.endsWith("-unknown");
      },
    },
    {
      resentAfterFailure: (events) => {
        resent += events;
      },
      request: (kind) => requests.push(kind),
      topics: (proven, suspect) => Object.assign(states, { proven, suspect }),
    },
    4,
  );
  /** Topics Kafka has taken a send for, as a running relay's are: only those are combined. */
  const proven = async (...topics: string[]) => {
    for (const topic of topics) await producer.send([record(topic, `${topic}-first`)]);
    kafka.requests.length = 0;
    kafka.delivered.clear();
  };
  return { kafka, producer, ensured, proven, resent: () => resent, requests, states };
};

describe("combining produce requests", () => {
  it("sends the sends of 100 topics made at once in one request, each topic's records in order", async () => {
    const { kafka, producer, ensured, proven } = setUp();
    const topics = Array.from({ length: 100 }, (_, i) => `user-behaviors-t${i}`);
    await proven(...topics);
    await Promise.all(
      topics.map((topic) => producer.send([record(topic, `${topic}-1`), record(topic, `${topic}-2`)])),
    );
    expect(kafka.requests).toHaveLength(1);
    expect(kafka.requests[0]).toHaveLength(200);
    for (const topic of topics) expect(kafka.ids(topic)).toEqual([`${topic}-1`, `${topic}-2`]);
    expect(new Set(ensured)).toEqual(new Set(topics));
  });

  it("tries each send alone when a combined request fails: one topic's refusal is that topic's only", async () => {
    const { kafka, producer, resent, proven } = setUp();
    await proven("user-behaviors-a", "user-behaviors-gone", "user-behaviors-b");
    const refused = new KafkaWriteError("topic", "UNKNOWN_TOPIC_OR_PARTITION", "no such topic");
    kafka.behaviour = (records) =>
      records.some((r) => r.topic === "user-behaviors-gone") ? refused : undefined;
    const outcomes = await Promise.allSettled([
      producer.send([record("user-behaviors-a", "a1")]),
      producer.send([record("user-behaviors-gone", "g1")]),
      producer.send([record("user-behaviors-b", "b1")]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBe(refused);
    expect(kafka.ids("user-behaviors-a")).toEqual(["a1"]);
    expect(kafka.ids("user-behaviors-b")).toEqual(["b1"]);
    // The combined request failed before it was produced: nothing can have been written twice.
    expect(resent()).toBe(0);
  });

  it("counts sends made again after a combined request that reached the broker as possible duplicates", async () => {
    const { kafka, producer, resent, proven } = setUp();
    await proven("user-behaviors-a", "user-behaviors-b");
    const failedAfterProducing = new KafkaWriteError("record", "MESSAGE_TOO_LARGE", "too large", {
      cause: Object.assign(new Error("Producing messages failed."), { produced: { offsets: [] } }),
    });
    kafka.behaviour = (records) =>
      records.some((r) => r.eventId === "big") ? failedAfterProducing : undefined;
    const outcomes = await Promise.allSettled([
      producer.send([record("user-behaviors-a", "a1"), record("user-behaviors-a", "a2")]),
      producer.send([record("user-behaviors-b", "big")]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected"]);
    expect(resent()).toBe(2);
  });

  it("sends new topics' records apart from proven ones: a missing topic never holds back a proven tenant", async () => {
    const { kafka, producer, proven } = setUp();
    await proven("user-behaviors-a", "user-behaviors-b");
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A topic Kafka does not know: its request retries until it times out.
    kafka.behaviour = (records) =>
      records.some((r) => r.topic === "user-behaviors-new") ? stuck : undefined;
    const waiting = producer.send([record("user-behaviors-new", "n1")]);
    await Promise.all([
      producer.send([record("user-behaviors-a", "a1")]),
      producer.send([record("user-behaviors-b", "b1")]),
    ]);
    expect(kafka.ids("user-behaviors-a")).toEqual(["a1"]);
    expect(kafka.requests.map((r) => r.map((x) => x.eventId))).toEqual([["n1"], ["a1", "b1"]]);
    release();
    await waiting;
    // Once Kafka took it, the topic is combined like the others.
    kafka.requests.length = 0;
    kafka.behaviour = () => undefined;
    await Promise.all(
      ["a2", "b2", "n2"].map((id, i) =>
        producer.send([
          record(["user-behaviors-a", "user-behaviors-b", "user-behaviors-new"][i] as string, id),
        ]),
      ),
    );
    expect(kafka.requests).toHaveLength(1);
  });

  it("sends a topic that could be neither made nor found alone, apart from other new topics", async () => {
    const { kafka, producer } = setUp();
    await Promise.all(
      ["user-behaviors-a", "user-behaviors-x-unknown", "user-behaviors-b"].map((topic) =>
        producer.send([record(topic, topic)]),
      ),
    );
    expect(kafka.requests.map((r) => r.map((x) => x.topic).sort())).toEqual([
      ["user-behaviors-x-unknown"],
      ["user-behaviors-a", "user-behaviors-b"],
    ]);
  });

  it("combines the first sends of 1,000 new tenants instead of sending each alone", async () => {
    const { kafka, producer } = setUp();
    const topics = Array.from({ length: 1000 }, (_, i) => `user-behaviors-new${i}`);
    await Promise.all(topics.map((topic) => producer.send([record(topic, `${topic}-1`)])));
    expect(kafka.requests).toHaveLength(1);
    for (const topic of topics) expect(kafka.ids(topic)).toEqual([`${topic}-1`]);
  });

  it("sends a topic that failed where others succeeded alone until Kafka takes it again", async () => {
    const { kafka, producer, proven, requests, states } = setUp();
    await proven("user-behaviors-a", "user-behaviors-b", "user-behaviors-sick");
    // A partition without a leader: retriable, yet only that topic's.
    const leaderless = new KafkaWriteError("retriable", "NOT_LEADER_OR_FOLLOWER", "no leader");
    kafka.behaviour = (records) =>
      records.some((r) => r.topic === "user-behaviors-sick") ? leaderless : undefined;
    const sendAll = (n: number) =>
      Promise.allSettled(
        ["a", "b", "sick"].map((name) => producer.send([record(`user-behaviors-${name}`, `${name}${n}`)])),
      );
    expect((await sendAll(1)).map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    kafka.requests.length = 0;
    expect((await sendAll(2)).map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    // The suspect goes alone, the others still together: no combined request failed this time.
    expect(kafka.requests.map((r) => r.map((x) => x.eventId))).toEqual([["sick2"], ["a2", "b2"]]);
    expect(states).toEqual({ proven: 2, suspect: 1 });
    expect(requests.slice(-2)).toEqual(["alone", "combined"]);
    kafka.behaviour = () => undefined;
    kafka.requests.length = 0;
    await producer.send([record("user-behaviors-sick", "sick3")]);
    await sendAll(4);
    expect(kafka.requests.map((r) => r.length)).toEqual([1, 3]);
    expect(states).toEqual({ proven: 3, suspect: 0 });
  });

  it("keeps topics combined when all of a request's sends fail alone too: the cluster's trouble, not theirs", async () => {
    const { kafka, producer, proven } = setUp();
    const topics = Array.from({ length: 50 }, (_, i) => `user-behaviors-t${i}`);
    await proven(...topics);
    kafka.behaviour = () => new KafkaWriteError("retriable", "REQUEST_TIMED_OUT", "the broker is late");
    const outcomes = await Promise.allSettled(topics.map((topic) => producer.send([record(topic, "x")])));
    expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
    kafka.behaviour = () => undefined;
    kafka.requests.length = 0;
    await Promise.all(topics.map((topic) => producer.send([record(topic, "y")])));
    expect(kafka.requests).toHaveLength(1);
  });

  it("sends a send made alone as it is, in a request of its own", async () => {
    const { kafka, producer } = setUp();
    await producer.send([record("user-behaviors-a", "a1")]);
    await producer.send([record("user-behaviors-a", "a2")]);
    expect(kafka.requests.map((r) => r.map((x) => x.eventId))).toEqual([["a1"], ["a2"]]);
  });
});
