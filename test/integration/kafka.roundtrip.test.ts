import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  Admin,
  Consumer,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXAMPLE_EVENTS, encodeEvent, topicFor, validateEvent } from "../../src/core/index.ts";
import { uniqueName } from "../support/random.ts";

const brokers = inject("kafkaBrokers");

/** Runs one of Kafka's own tools (a client we did not write) through scripts/kafka.sh. */
const kafkaTool = async (...args: string[]): Promise<string> => {
  const script = join(import.meta.dirname, "..", "..", "scripts", "kafka.sh");
  const { stdout } = await promisify(execFile)("bash", [script, "tool", ...args], {
    timeout: 60_000,
    encoding: "utf8",
  });
  return stdout;
};
const tenant = uniqueName("it");
const topic = topicFor(tenant);
const users = ["u_1", "u_2", "用户_3"];

/** Valid events of the test's own tenant, three per user, as JSON keyed by user. */
const events = users.flatMap((user, u) =>
  [0, 1, 2].map((n) => {
    const result = validateEvent({
      ...EXAMPLE_EVENTS.ecommerce_data,
      tenant_id: tenant,
      user_id: user,
      position: n,
    });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const encoded = encodeEvent(result.event);
    if (!encoded.ok) throw new Error(encoded.error.message);
    return { key: user, value: encoded.json, eventId: result.event.event_id, order: u * 3 + n };
  }),
);

describe("Kafka round trip", () => {
  const admin = new Admin({ clientId: "it-admin", bootstrapBrokers: brokers });
  const producer = new Producer({
    clientId: "it-producer",
    bootstrapBrokers: brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  });

  beforeAll(async () => {
    await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1 });
  });

  afterAll(async () => {
    await producer.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.close();
  });

  it("produces keyed events with acks=all and reads them back in order per key with our client", async () => {
    const result = await producer.send({
      messages: events.map((e) => ({ topic, key: e.key, value: e.value, headers: { event_id: e.eventId } })),
    });
    expect(result.offsets?.length).toBeGreaterThan(0);

    const consumer = new Consumer({
      clientId: "it-consumer",
      groupId: uniqueName("it_group"),
      bootstrapBrokers: brokers,
      deserializers: stringDeserializers,
    });
    const received: { key: string; value: string; eventId: string | undefined; partition: number }[] = [];
    const stream = await consumer.consume({
      topics: [topic],
      mode: MessagesStreamModes.EARLIEST,
      autocommit: false,
    });
    for await (const message of stream) {
      received.push({
        key: message.key,
        value: message.value,
        eventId: message.headers.get("event_id"),
        partition: message.partition,
      });
      if (received.length === events.length) break;
    }
    await stream.close();
    await consumer.close();

    expect(received.map((m) => m.value).sort()).toEqual(events.map((e) => e.value).sort());
    for (const message of received) expect(JSON.parse(message.value).event_id).toBe(message.eventId);
    for (const user of users) {
      const ofUser = received.filter((m) => m.key === user);
      // One user's events share a partition and keep their order.
      expect(new Set(ofUser.map((m) => m.partition)).size).toBe(1);
      expect(ofUser.map((m) => JSON.parse(m.value).position)).toEqual([0, 1, 2]);
    }
  });

  it("is read back byte-exact by Kafka's own console consumer", async () => {
    const stdout = await kafkaTool(
      "org.apache.kafka.tools.consumer.ConsoleConsumer",
      "--bootstrap-server",
      brokers.join(","),
      "--topic",
      topic,
      "--from-beginning",
      "--max-messages",
      String(events.length),
      "--timeout-ms",
      "45000",
      "--property",
      "print.key=true",
      "--property",
      "key.separator=\t",
    );
    const lines = stdout.split("\n").filter((line) => line.includes("\t"));
    const pairs = lines.map((line) => {
      const tab = line.indexOf("\t");
      return [line.slice(0, tab), line.slice(tab + 1)];
    });
    expect(pairs.sort()).toEqual(events.map((e) => [e.key, e.value]).sort());
    expect(stdout).toContain("/服饰/女装/连衣裙");
  });

  it("can be loaded by Kafka's ProducerPerformance, the speed ceiling of later benchmarks", async () => {
    const stdout = await kafkaTool(
      "org.apache.kafka.tools.ProducerPerformance",
      "--topic",
      topic,
      "--num-records",
      "2000",
      "--record-size",
      "512",
      "--throughput",
      "-1",
      "--producer-props",
      `bootstrap.servers=${brokers.join(",")}`,
      "acks=all",
    );
    expect(stdout).toMatch(/^2000 records sent, [\d.]+ records\/sec/m);
  });
});
