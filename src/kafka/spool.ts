import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { byTopic, type EventRecord, SinkUnavailableError } from "./records.ts";

/** What the write path needs of a spool: the file spool below, or an in-memory one in unit tests. */
export interface RecordSpool {
  readonly isEmpty: boolean;
  /** Events held, including those being written. */
  readonly events: number;
  readonly bytes: number;
  /** Appends durably; resolves once the records would survive a crash. */
  append(records: readonly EventRecord[]): Promise<void>;
  /** The oldest segment; appends after this call go to a newer one. */
  oldest(): Promise<{ seq: number; records: EventRecord[] } | undefined>;
  /** Drops a segment once every record in it is in Kafka. */
  remove(seq: number, events: number): Promise<void>;
  close(): Promise<void>;
}

/** The spools of a process, one per topic, sharing one budget. */
export interface SpoolStore {
  readonly budget: SpoolBudget;
  /** Topics whose spools a previous run left records in. */
  leftovers(): Promise<string[]>;
  open(topic: string): Promise<RecordSpool>;
}

const SEGMENT_BYTES = 8 * 1024 * 1024;
const segmentName = (seq: number) => `${String(seq).padStart(12, "0")}.ndjson`;

/**
 * The bytes all the spools of a process may hold together (one spool per topic share it), and the share
 * one topic's spool may take of them: a topic that cannot be written (a tenant's missing or forbidden
 * topic) fills its share and no more, so the others' events and the relay's readiness are not its to take.
 */
export class SpoolBudget {
  used = 0;
  /** Events held by all the spools, kept as a count: summing thousands of spools per append is quadratic. */
  events = 0;
  readonly maxBytes: number;
  readonly topicMaxBytes: number;

  constructor(maxBytes: number, topicMaxBytes = maxBytes) {
    this.maxBytes = maxBytes;
    this.topicMaxBytes = Math.min(topicMaxBytes, maxBytes);
  }

  /** Why `size` more bytes may not go to a spool that holds `held`, or undefined if they may. */
  refusal(held: number, size: number): SinkUnavailableError | undefined {
    if (held + size > this.topicMaxBytes)
      return new SinkUnavailableError(
        `this topic's share of the spool is full (${held} of ${this.topicMaxBytes} bytes)`,
      );
    if (this.used + size > this.maxBytes)
      return new SinkUnavailableError(`the spool is full (${this.used} of ${this.maxBytes} bytes)`);
    return undefined;
  }

  /** Whether another segment's worth of records still fits. */
  get hasRoom(): boolean {
    return this.used + SEGMENT_BYTES <= this.maxBytes;
  }
}

/**
 * A local spool: records Kafka could not take, appended to files and fsync'd before the caller is
 * answered, replayed oldest first. Concurrent appends are written and synced together (group commit).
 * Bounded by a budget shared with the other spools of the process: beyond it appends are refused, never
 * dropped.
 *
 * Format: one JSON object per line, `{"t":topic,"k":key,"v":value,"id":event_id}` (and `"o":1` for a hot
 * key's overflow), in segment files
 * named by a sequence number. A torn last line (a crash mid-write) was never acknowledged and is skipped.
 */
export class Spool implements RecordSpool {
  #segments: number[] = [];
  #handle: FileHandle | undefined;
  #writeSeq = 0;
  #writeBytes = 0;
  #bytes = 0;
  #events = 0;
  #batch: { lines: string; count: number; done: () => void; fail: (e: unknown) => void }[] = [];
  #writing: Promise<void> | undefined;

  private readonly dir: string;
  private readonly budget: SpoolBudget;

  private constructor(dir: string, budget: SpoolBudget) {
    this.dir = dir;
    this.budget = budget;
  }

  /** Opens the spool directory and takes stock of what a previous run left in it. */
  static async open(dir: string, budget: SpoolBudget): Promise<Spool> {
    const spool = new Spool(dir, budget);
    await mkdir(dir, { recursive: true });
    for (const name of (await readdir(dir)).filter((n) => /^\d{12}\.ndjson$/.test(n)).sort()) {
      const seq = Number(name.slice(0, 12));
      const size = (await stat(join(dir, name))).size;
      if (size === 0) {
        await rm(join(dir, name));
        continue;
      }
      spool.#segments.push(seq);
      spool.#bytes += size;
      budget.used += size;
      const events = (await spool.read(seq)).length;
      spool.#events += events;
      budget.events += events;
    }
    spool.#writeSeq = (spool.#segments.at(-1) ?? 0) + 1;
    return spool;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Events held, including those being written. */
  get events(): number {
    return this.#events;
  }

  get isEmpty(): boolean {
    return this.#events === 0;
  }

  /** Appends and fsyncs; resolves once the records are on disk. */
  append(records: readonly EventRecord[]): Promise<void> {
    let lines = "";
    for (const r of records)
      lines += `${JSON.stringify({ t: r.topic, k: r.key, v: r.value, id: r.eventId, ...(r.overflow ? { o: 1 } : {}) })}\n`;
    const size = Buffer.byteLength(lines);
    const refusal = this.budget.refusal(this.#bytes, size);
    if (refusal !== undefined) return Promise.reject(refusal);
    this.#bytes += size;
    this.budget.used += size;
    this.#events += records.length;
    this.budget.events += records.length;
    return new Promise((done, fail) => {
      this.#batch.push({ lines, count: records.length, done, fail });
      this.#writing ??= this.#writeAll();
    });
  }

  async #writeAll(): Promise<void> {
    while (this.#batch.length > 0) {
      const batch = this.#batch;
      this.#batch = [];
      const text = batch.map((b) => b.lines).join("");
      try {
        if (this.#handle === undefined || this.#writeBytes >= SEGMENT_BYTES) await this.#roll();
        const handle = this.#handle as FileHandle;
        await handle.appendFile(text);
        await handle.datasync();
        this.#writeBytes += Buffer.byteLength(text);
        for (const b of batch) b.done();
      } catch (error) {
        for (const b of batch) {
          this.#bytes -= Buffer.byteLength(b.lines);
          this.budget.used -= Buffer.byteLength(b.lines);
          this.#events -= b.count;
          this.budget.events -= b.count;
          b.fail(error);
        }
      }
    }
    this.#writing = undefined;
  }

  async #roll(): Promise<void> {
    await this.#handle?.close();
    const seq = this.#writeSeq++;
    this.#handle = await open(join(this.dir, segmentName(seq)), "a");
    this.#writeBytes = 0;
    this.#segments.push(seq);
  }

  /** The oldest segment, closed for writing first when it is the one being appended to. */
  async oldest(): Promise<{ seq: number; records: EventRecord[] } | undefined> {
    await this.#writing;
    const seq = this.#segments[0];
    if (seq === undefined) return undefined;
    if (seq === this.#writeSeq - 1 && this.#handle !== undefined) {
      // Appends arriving from here on start a new segment.
      const handle = this.#handle;
      this.#handle = undefined;
      await handle.close();
    }
    return { seq, records: await this.read(seq) };
  }

  private async read(seq: number): Promise<EventRecord[]> {
    const text = await readFile(join(this.dir, segmentName(seq)), "utf8");
    const records: EventRecord[] = [];
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        const r = JSON.parse(line) as { t: string; k: string; v: string; id: string; o?: 1 };
        records.push({ topic: r.t, key: r.k, value: r.v, eventId: r.id, ...(r.o ? { overflow: true } : {}) });
      } catch (error) {
        // A torn final line: its append never completed, so it was never acknowledged.
        if (!(error instanceof SyntaxError)) throw error;
      }
    }
    return records;
  }

  /** Removes a segment once every record in it is in Kafka. */
  async remove(seq: number, events: number): Promise<void> {
    const path = join(this.dir, segmentName(seq));
    const size = (await stat(path)).size;
    await rm(path);
    this.#segments = this.#segments.filter((s) => s !== seq);
    this.#bytes -= size;
    this.budget.used -= size;
    this.#events -= events;
    this.budget.events -= events;
  }

  async close(): Promise<void> {
    await this.#writing;
    await this.#handle?.close();
    this.#handle = undefined;
  }
}

/**
 * One spool directory per topic under `dir`, so a topic that cannot be written holds back only its own
 * records. A spool of the earlier single-directory layout (segments directly in `dir`) is split into
 * the per-topic spools when the store is first asked for leftovers.
 */
export const fileSpoolStore = (dir: string, budget: SpoolBudget): SpoolStore => ({
  budget,
  leftovers: async () => {
    await mkdir(dir, { recursive: true });
    const legacy = await Spool.open(dir, budget);
    for (let segment = await legacy.oldest(); segment !== undefined; segment = await legacy.oldest()) {
      for (const [topic, records] of byTopic(segment.records)) {
        const spool = await Spool.open(join(dir, topic), budget);
        await spool.append(records);
        await spool.close();
      }
      await legacy.remove(segment.seq, segment.records.length);
    }
    await legacy.close();
    const topics: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const names = await readdir(join(dir, entry.name));
      if (names.some((n) => /^\d{12}\.ndjson$/.test(n))) topics.push(entry.name);
    }
    return topics;
  },
  open: (topic) => Spool.open(join(dir, topic), budget),
});
