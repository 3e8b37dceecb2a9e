// The dead-letter file is bounded per tenant and in all; what is acknowledged is never dropped for
// room (it waits in its spool, or its sender is refused retryably), refusals may be, with a count; and
// a redrive sends every record where it belongs, bounded again. Kafka and the spool in memory, the
// file on disk.
import { mkdtemp, readFile, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it, vi } from "vitest";
import { quarantineRecord } from "../../../src/core/index.ts";
import {
  type DeadLetterBounds,
  DeadLetterFile,
  DeadLettersFullError,
  redriveDeadLetters,
} from "../../../src/kafka/dead-letters.ts";
import { DurableSink } from "../../../src/kafka/durable-sink.ts";
import type { WritePathSettings } from "../../../src/kafka/lane-context.ts";
import { MemoryProducer, memorySpoolStore } from "../../../src/kafka/memory.ts";
import { kafkaWriterMetrics } from "../../../src/kafka/metrics.ts";
import { type EventRecord, KafkaWriteError, TopicsUnwrittenError } from "../../../src/kafka/records.ts";
import { TEST_WRITE_PATH } from "../../support/write-path.ts";

const SETTINGS: WritePathSettings = { ...TEST_WRITE_PATH, ackTimeoutMs: 1000 };

const A = "user-behaviors-a";
const B = "user-behaviors-b";

const event = (topic: string, id: string): EventRecord => ({
  topic,
  key: "u1",
  value: JSON.stringify({ event_id: id, tenant_id: topic.slice(15), user_id: "u1" }),
  eventId: id,
});
/** A refused event's quarantine record, as the relay writes it (the sender was answered 400). */
const refusal = (tenant: string, id: string): EventRecord => ({
  ...quarantineRecord(
    tenant,
    { reason: "invalid_event", errors: [], event: { tenant_id: tenant, event_id: id } },
    1,
  ),
  eventId: "",
});

/** Bytes of a record's line in the file (its documented format). */
const lineBytes = (r: EventRecord, reason = "POLICY_VIOLATION") =>
  Buffer.byteLength(`${JSON.stringify({ t: r.topic, k: r.key, v: r.value, id: r.eventId, reason })}\n`);

/** A tenant's share with room for `bytes` and no more. */
const roomFor = (bytes: number): DeadLetterBounds => ({ maxBytes: 1024 * 1024, tenantMaxBytes: bytes });

const setup = async (bounds: DeadLetterBounds) => {
  const dir = await mkdtemp(join(tmpdir(), "dead-letters-"));
  const registry = new Registry();
  const metrics = kafkaWriterMetrics(registry, "test");
  const file = new DeadLetterFile(join(dir, "dead-letter.ndjson"), bounds, metrics.deadLetterBytes);
  metrics.deadLetterFiles.add(file);
  const producer = new MemoryProducer();
  const spools = memorySpoolStore();
  const sink = await DurableSink.open(producer, spools, SETTINGS, metrics, pino({ level: "silent" }), file);
  const metric = async (name: string) =>
    new Map(
      ((await registry.getSingleMetric(`test_${name}`)?.get())?.values ?? []).map((v) => [
        String(v.labels.tenant ?? ""),
        v.value,
      ]),
    );
  const lines = async () =>
    (await readFile(file.path, "utf8").catch(() => ""))
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { t: string; v: string; reason: string });
  return { sink, producer, spools, file, metric, lines };
};

/** Kafka refuses every record of these topics for good. */
const refusing =
  (...topics: string[]) =>
  (sent: readonly EventRecord[]) =>
    topics.includes(sent[0]?.topic ?? "")
      ? new KafkaWriteError("record", "POLICY_VIOLATION", "policy")
      : undefined;

describe("the dead-letter file", () => {
  it("holds a tenant's records up to its share and all records up to the whole, and says which is full", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dead-letters-"));
    const line = lineBytes(refusal("a", "e"));
    const file = new DeadLetterFile(join(dir, "dl.ndjson"), { maxBytes: 5 * line, tenantMaxBytes: 3 * line });
    const entry = (tenant: string) => ({ record: refusal(tenant, "e"), reason: "POLICY_VIOLATION" });
    await file.append([entry("a")]);
    await file.append([entry("a")]);
    await file.append([entry("a")]);
    await expect(file.append([entry("a")])).rejects.toThrow(/DEAD_LETTER_TENANT_MAX_BYTES/);
    await file.append([entry("b")]);
    await file.append([entry("b")]);
    const error = await file.append([entry("c")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadLettersFullError);
    expect(error).toMatchObject({ tenant: "c", kind: "topic", message: /DEAD_LETTER_MAX_BYTES/ });
    expect([...(await file.usage()).keys()]).toEqual(["a", "b"]);
  });

  it("has room again once a redrive (another process) took the file away", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dead-letters-"));
    const entry = { record: refusal("a", "e"), reason: "POLICY_VIOLATION" };
    const line = lineBytes(entry.record);
    const file = new DeadLetterFile(join(dir, "dl.ndjson"), { maxBytes: 1024 * 1024, tenantMaxBytes: line });
    await file.append([entry]);
    await expect(file.append([entry])).rejects.toBeInstanceOf(DeadLettersFullError);
    await rename(file.path, `${file.path}.1.redriving`);
    await file.append([entry]);
    // And what the redrive writes back counts again.
    await writeFile(file.path, await readFile(`${file.path}.1.redriving`), { flag: "a" });
    expect((await file.usage()).get("a")).toBe(2 * line);
  });
});

describe("the write path with bounded dead letters", () => {
  it("drops a refusal its quarantine topic refuses once its tenant's share is full, counted; another tenant's is still kept", async () => {
    const { sink, producer, metric, lines } = await setup(roomFor(lineBytes(refusal("a", "r1"))));
    producer.behaviour = refusing(`${A}-rejected`, `${B}-rejected`);
    await sink.write([refusal("a", "r1")]);
    // No room for a's second: its sender had its 400 already, so it is dropped, and the write is done.
    await sink.write([refusal("a", "r2")]);
    await sink.write([refusal("b", "r3")]);
    expect((await lines()).map((l) => [l.t, JSON.parse(l.v).event.event_id])).toEqual([
      [`${A}-rejected`, "r1"],
      [`${B}-rejected`, "r3"],
    ]);
    expect(await metric("dead_letter_dropped_records_total")).toEqual(new Map([["a", 1]]));
    expect(await metric("dead_letter_records_total")).toEqual(new Map([["", 2]]));
    const bytes = await metric("dead_letter_bytes");
    expect([...bytes.keys()].sort()).toEqual(["a", "b"]);
  });

  it("refuses retryably a new event that would need its tenant's full share, takes the others, and drops nothing", async () => {
    // Room for one refused event's quarantine record (a few hundred bytes), not two.
    const { sink, producer, lines } = await setup(roomFor(600));
    // Kafka refuses a_1 and a_2 in a's topic, and everything in a's quarantine topic.
    producer.behaviour = (sent) =>
      sent.some((r) => r.eventId === "a_1" || r.eventId === "a_2") || sent[0]?.topic === `${A}-rejected`
        ? new KafkaWriteError("record", "POLICY_VIOLATION", "policy")
        : undefined;
    // The first is acknowledged: its quarantine record is in the dead-letter file.
    await sink.write([event(A, "a_1")]);
    expect((await lines()).map((l) => JSON.parse(l.v).event.event_id)).toEqual(["a_1"]);

    // The second finds no room: its sender is told to retry; the events beside it are taken.
    const [second, beside, other] = await Promise.allSettled([
      sink.write([event(A, "a_2")]),
      sink.write([event(A, "a_3")]),
      sink.write([event(B, "b_1")]),
    ]);
    expect(second).toMatchObject({ status: "rejected", reason: expect.any(TopicsUnwrittenError) });
    expect((second as PromiseRejectedResult).reason.topics).toEqual(new Set([A]));
    expect([beside?.status, other?.status]).toEqual(["fulfilled", "fulfilled"]);
    expect(producer.ids(A)).toEqual(["a_3"]);
    expect(producer.ids(B)).toEqual(["b_1"]);
    expect((await lines()).map((l) => JSON.parse(l.v).event.event_id)).toEqual(["a_1"]);
  });

  it("keeps an acknowledged event in its spool while there is no room for it, and delivers it once the cause is fixed", async () => {
    const { sink, producer, spools, lines } = await setup(roomFor(10));
    // The broker is away: a_1 is spooled and acknowledged.
    producer.behaviour = () => new KafkaWriteError("retriable", "UNAVAILABLE", "away");
    await sink.write([event(A, "a_1")]);
    // Back, but refusing a_1 for good, in its topic and in its quarantine topic; the file has no room.
    producer.behaviour = (sent) =>
      sent.some((r) => r.eventId === "a_1") || sent[0]?.topic === `${A}-rejected`
        ? new KafkaWriteError("record", "POLICY_VIOLATION", "policy")
        : undefined;
    await vi.waitFor(
      () =>
        expect(
          producer.requests.filter((r) => r[0]?.topic === `${A}-rejected`).length,
        ).toBeGreaterThanOrEqual(2),
      { timeout: 5000, interval: 5 },
    );
    expect(spools.spools.get(A)?.events).toBe(1);
    expect(sink.kafkaAvailable).toBe(true);
    expect(await lines()).toEqual([]);

    // The quarantine topic takes it now (its policy fixed): the event leaves the spool for it.
    producer.behaviour = refusing(A);
    await vi.waitFor(() => expect(spools.spools.get(A)?.events).toBe(0), { timeout: 10_000, interval: 5 });
    const kept = (producer.delivered.get(`${A}-rejected`) ?? []).map((r) => JSON.parse(r.value));
    expect(kept).toEqual([
      expect.objectContaining({
        reason: "kafka_refused",
        event: expect.objectContaining({ event_id: "a_1" }),
      }),
    ]);
  });
});

describe("a redrive", () => {
  it("sends each record where it belongs, bounded again; what Kafka refuses again stays; a failure keeps the rest", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dead-letters-"));
    const path = join(dir, "dead-letter.ndjson");
    // A quarantine record written before records were bounded: 900 KB of member name in its errors.
    const name = "k".repeat(900_000);
    const old = {
      topic: `${A}-rejected`,
      key: "u1",
      value: JSON.stringify({
        reason: "invalid_event",
        errors: [
          { path: `context.${name}`, code: "unknown_field", message: `context.${name} is not a field` },
        ],
        received_at: 1,
        event: { tenant_id: "a", user_id: "u1", event_id: "old" },
      }),
      eventId: "",
    };
    const line = (r: EventRecord) =>
      `${JSON.stringify({ t: r.topic, k: r.key, v: r.value, id: r.eventId, reason: "MESSAGE_TOO_LARGE" })}\n`;
    await writeFile(
      path,
      [old, refusal("b", "again"), refusal("a", "later"), refusal("b", "last")].map(line).join(""),
    );

    const sent: EventRecord[] = [];
    const result = await redriveDeadLetters(path, async (record) => {
      if (record.value.includes('"again"')) throw new KafkaWriteError("record", "POLICY_VIOLATION", "policy");
      if (record.value.includes('"later"')) throw new KafkaWriteError("retriable", "UNAVAILABLE", "away");
      sent.push(record);
    });
    expect(result).toMatchObject({ read: 4, sent: 1, refused: 1, failure: expect.any(KafkaWriteError) });
    expect(sent.map((r) => r.topic)).toEqual([`${A}-rejected`]);
    expect(Buffer.byteLength(sent[0]?.value ?? "")).toBeLessThan(100_000);
    expect(JSON.parse(sent[0]?.value ?? "").event).toEqual({
      tenant_id: "a",
      user_id: "u1",
      event_id: "old",
    });
    const left = (await readFile(path, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(left.map((l) => [JSON.parse(l.v).event.event_id, l.reason])).toEqual([
      ["again", "POLICY_VIOLATION"],
      ["later", "MESSAGE_TOO_LARGE"],
      ["last", "MESSAGE_TOO_LARGE"],
    ]);

    // Once the cause is fixed, the next redrive sends the rest and leaves no file.
    const second = await redriveDeadLetters(path, async (record) => void sent.push(record));
    expect(second).toEqual({ read: 3, sent: 3, refused: 0 });
    await expect(readFile(path)).rejects.toMatchObject({ code: "ENOENT" });
  });
});
