import {
  type ConnectionOptions,
  Consumer,
  MessagesStreamModes,
  stringDeserializers,
} from "@platformatic/kafka";
import { uniqueName } from "./random.ts";

export interface ReadRecord {
  key: string;
  value: string;
  headers: Map<string, string>;
  partition: number;
}

/** Reads a topic from the beginning until `count` records (that `accept` takes) arrived or `timeoutMs` passed. */
export const readTopic = async (
  brokers: string[],
  topic: string,
  count: number,
  timeoutMs = 20_000,
  accept: (record: ReadRecord) => boolean = () => true,
  /** SASL or TLS, for a secured cluster. */
  connection: Pick<ConnectionOptions, "sasl" | "tls"> = {},
): Promise<ReadRecord[]> => {
  const consumer = new Consumer({
    clientId: "test-reader",
    groupId: uniqueName("test_reader"),
    bootstrapBrokers: brokers,
    deserializers: stringDeserializers,
    ...connection,
  });
  const records: ReadRecord[] = [];
  const started = Date.now();
  const consume = () =>
    consumer.consume({
      topics: [topic],
      mode: MessagesStreamModes.EARLIEST,
      autocommit: false,
      maxWaitTime: 200,
    });
  let stream: Awaited<ReturnType<typeof consume>>;
  // A topic created a moment ago may not be in the metadata of the broker asked yet, and a group cannot
  // be joined while its coordinator moves (a broker just killed): asked again.
  for (;;) {
    try {
      stream = await consume();
      break;
    } catch (error) {
      const transient = /unknown topic|JoinGroup|coordinator/i.test(`${error} ${(error as Error).message}`);
      if (!transient || Date.now() - started > timeoutMs) {
        await consumer.close(true).catch(() => undefined);
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  const timer = setTimeout(() => void stream.close(), timeoutMs);
  try {
    for await (const message of stream) {
      const record = {
        key: message.key,
        value: message.value,
        headers: message.headers,
        partition: message.partition,
      };
      if (accept(record)) records.push(record);
      if (records.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
    await stream.close().catch(() => undefined);
    await consumer.close(true).catch(() => undefined);
  }
  return records;
};

/**
 * Every record a topic holds now: reads up to the end offsets it has when called, so an audit counts
 * duplicates without waiting out a timeout. Records written after the call are not included.
 */
export const readWholeTopic = async (
  brokers: string[],
  topic: string,
  timeoutMs = 30_000,
): Promise<ReadRecord[]> => {
  const consumer = new Consumer({
    clientId: "test-reader",
    groupId: uniqueName("test_offsets"),
    bootstrapBrokers: brokers,
  });
  try {
    // A topic that does not exist (yet) holds nothing; an audit that expected records reads again.
    const ends = await consumer.listOffsets({ topics: [topic] }).then(
      (offsets) => offsets.get(topic) ?? [],
      () => [],
    );
    const total = ends.reduce((sum, end) => sum + Number(end), 0);
    return total === 0 ? [] : await readTopic(brokers, topic, total, timeoutMs);
  } finally {
    await consumer.close(true).catch(() => undefined);
  }
};
