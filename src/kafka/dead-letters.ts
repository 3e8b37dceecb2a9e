import { appendFile, mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  ACKNOWLEDGED_REASONS,
  isValidTenantId,
  type QuarantineReason,
  quarantineRecord,
  type Refusal,
  TOPIC_PREFIX,
} from "../core/index.ts";
import { FAILURE_POLICY } from "./failure-policy.ts";
import { type EventRecord, KafkaWriteError } from "./records.ts";

/**
 * Where records Kafka refuses for good go when even their quarantine topic refuses them. Bounded:
 * without room it throws {@link DeadLettersFullError} and keeps nothing.
 */
export interface DeadLetters {
  append(entries: readonly { record: EventRecord; reason: string }[]): Promise<void>;
}

/** The dead-letter file's name in a spool directory. */
export const DEAD_LETTER_FILE = "dead-letter.ndjson";

/** What the dead-letter file of one writer may hold. */
export interface DeadLetterBounds {
  /** Bytes in all. */
  maxBytes: number;
  /** Bytes of one tenant's records (its events' and its quarantine topic's). */
  tenantMaxBytes: number;
}

/**
 * The dead-letter file has no room for a record of this tenant (its share, or the whole file, is full).
 * A topic's failure, not the cluster's: the record waits in its topic's spool, or its sender is refused
 * retryably, until `behavior-ingest dead-letters redrive` makes room.
 */
export class DeadLettersFullError extends KafkaWriteError {
  readonly tenant: string;

  constructor(tenant: string, what: string) {
    super("topic", "DEAD_LETTERS_FULL", `the dead-letter file has no room for ${what}`);
    this.tenant = tenant;
  }
}

/** The tenant a record's topic belongs to (its event topic or its quarantine topic), or "" for none. */
export const tenantOfRecordTopic = (topic: string): string => {
  const tenant = topic.slice(TOPIC_PREFIX.length).replace(/-rejected$/, "");
  return topic.startsWith(TOPIC_PREFIX) && isValidTenantId(tenant) ? tenant : "";
};

/**
 * Whether a record is an event its sender was told is kept: an event topic's record, or a quarantine
 * record of an acknowledged event (`kafka_refused`, `undeliverable`). Those are never dropped for room;
 * a quarantined refusal (its sender was answered 4xx) may be. A value that does not say is kept.
 */
export const wasAcknowledged = (record: EventRecord): boolean => {
  if (!record.topic.endsWith("-rejected")) return true;
  try {
    const { reason } = JSON.parse(record.value) as { reason?: unknown };
    return typeof reason !== "string" || ACKNOWLEDGED_REASONS.has(reason as QuarantineReason);
  } catch (error) {
    // JSON.parse throws SyntaxError for a value that is not JSON: not ours to judge, so kept.
    if (!(error instanceof SyntaxError)) throw error;
    return true;
  }
};

interface Line {
  t: string;
  k: string;
  v: string;
  id: string;
  reason: string;
}

const lineOf = ({ record: r, reason }: { record: EventRecord; reason: string }) =>
  `${JSON.stringify({ t: r.topic, k: r.key, v: r.value, id: r.eventId, reason } satisfies Line)}\n`;

/** Appends text and fsyncs it: a dead letter is acknowledged data's last copy. */
const appendDurably = async (path: string, text: string) => {
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, text);
  const handle = await open(path, "r");
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
};

/** Bytes of each tenant's lines in a dead-letter text ("" for lines of no tenant or not whole). */
const bytesByTenant = (text: string): Map<string, number> => {
  const usage = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let tenant = "";
    try {
      tenant = tenantOfRecordTopic((JSON.parse(line) as Line).t);
    } catch (error) {
      // A line cut short by a crash is not JSON: its bytes count all the same, under no tenant.
      if (!(error instanceof SyntaxError)) throw error;
    }
    usage.set(tenant, (usage.get(tenant) ?? 0) + Buffer.byteLength(line) + 1);
  }
  return usage;
};

/** The gauge the file keeps current: bytes per tenant. */
export interface DeadLetterGauge {
  set(labels: { tenant: string }, value: number): void;
  remove(labels: { tenant: string }): void;
}

/**
 * The last resort for a record Kafka refuses for good even in its quarantine topic: one JSON line per
 * record, `{"t":topic,"k":key,"v":value,"id":event_id,"reason":…}`, appended and fsync'd, bounded in
 * bytes per tenant and in all ({@link DeadLetterBounds}): a record without room is refused with
 * {@link DeadLettersFullError}. `behavior-ingest dead-letters redrive` sends the file again once the
 * cause (a topic's max.message.bytes, a policy) is fixed — another process, so the usage is measured
 * again from the file whenever it changed behind this one's back.
 */
export class DeadLetterFile implements DeadLetters {
  readonly path: string;
  readonly #bounds: DeadLetterBounds;
  readonly #gauge: DeadLetterGauge | undefined;
  #usage = new Map<string, number>();
  /** The file as last measured or written by this process: size and identity, to see others' changes. */
  #seen: { size: number; ino: number } | undefined;
  /** One append or measurement at a time: the usage is decided and written together. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string, bounds: DeadLetterBounds, gauge?: DeadLetterGauge) {
    this.path = path;
    this.#bounds = bounds;
    this.#gauge = gauge;
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Bytes per tenant in the file now. */
  usage(): Promise<ReadonlyMap<string, number>> {
    return this.#serially(async () => {
      await this.#measure();
      return new Map(this.#usage);
    });
  }

  /** Reads the file again if it is not as this process left it (a redrive took it away, or wrote back). */
  async #measure(): Promise<void> {
    const now = await stat(this.path).then(
      (s) => ({ size: s.size, ino: s.ino }),
      (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? undefined : Promise.reject(error)),
    );
    if (now?.size === this.#seen?.size && now?.ino === this.#seen?.ino) return;
    const before = this.#usage;
    this.#usage =
      now === undefined
        ? new Map()
        : bytesByTenant(
            await readFile(this.path, "utf8").catch((error: NodeJS.ErrnoException) =>
              error.code === "ENOENT" ? "" : Promise.reject(error),
            ),
          );
    this.#seen = now;
    for (const tenant of before.keys()) if (!this.#usage.has(tenant)) this.#gauge?.remove({ tenant });
    for (const [tenant, bytes] of this.#usage) this.#gauge?.set({ tenant }, bytes);
  }

  append(entries: readonly { record: EventRecord; reason: string }[]): Promise<void> {
    return this.#serially(async () => {
      await this.#measure();
      const lines = entries.map(lineOf);
      const adding = new Map<string, number>();
      let total = 0;
      for (const [i, line] of lines.entries()) {
        const tenant = tenantOfRecordTopic((entries[i] as { record: EventRecord }).record.topic);
        const bytes = Buffer.byteLength(line);
        adding.set(tenant, (adding.get(tenant) ?? 0) + bytes);
        total += bytes;
      }
      const used = [...this.#usage.values()].reduce((sum, n) => sum + n, 0);
      const [first = ""] = adding.keys();
      if (used + total > this.#bounds.maxBytes) {
        throw new DeadLettersFullError(first, "more records (DEAD_LETTER_MAX_BYTES)");
      }
      for (const [tenant, bytes] of adding) {
        if ((this.#usage.get(tenant) ?? 0) + bytes > this.#bounds.tenantMaxBytes) {
          throw new DeadLettersFullError(
            tenant,
            `tenant ${tenant || "(none)"}'s records (DEAD_LETTER_TENANT_MAX_BYTES)`,
          );
        }
      }
      await appendDurably(this.path, lines.join(""));
      for (const [tenant, bytes] of adding) {
        this.#usage.set(tenant, (this.#usage.get(tenant) ?? 0) + bytes);
        this.#gauge?.set({ tenant }, this.#usage.get(tenant) ?? 0);
      }
      // Grown by exactly what was written, the file is as this process knows it; otherwise someone
      // else wrote too, and the next call measures it again.
      const after = await stat(this.path);
      this.#seen =
        after.size === (this.#seen?.size ?? 0) + total ? { size: after.size, ino: after.ino } : undefined;
    });
  }
}

/**
 * A dead letter as it is sent again: a quarantine record is bounded again (one written before records
 * were bounded, with a field error repeating a 900 KB member name, fits its topic now).
 */
const resent = (record: EventRecord): EventRecord => {
  const tenant = tenantOfRecordTopic(record.topic);
  if (!record.topic.endsWith("-rejected") || tenant === "") return record;
  try {
    const kept = JSON.parse(record.value) as Refusal & { received_at: number };
    if (!Array.isArray(kept.errors)) return record;
    return { ...quarantineRecord(tenant, kept, kept.received_at), eventId: record.eventId };
  } catch (error) {
    // JSON.parse throws SyntaxError for a value that is not JSON: sent as it was.
    if (!(error instanceof SyntaxError)) throw error;
    return record;
  }
};

export interface RedriveResult {
  /** Dead letters read from the file (and from files a redrive that died left). */
  read: number;
  sent: number;
  /** Refused for good again (back in the file). */
  refused: number;
  /** What stopped it before the end (Kafka unreachable…): the rest is back in the file. */
  failure?: unknown;
}

/**
 * Sends a dead-letter file's records where they belong, oldest first, one at a time (`send` throws a
 * {@link KafkaWriteError}). Records Kafka refuses for good again go back to the file; on any other
 * failure the rest goes back too and the redrive stops. The file is taken aside first (renamed), so a
 * writer appending meanwhile starts a new one; what a redrive that died had taken aside is sent too.
 */
export const redriveDeadLetters = async (
  path: string,
  send: (record: EventRecord) => Promise<void>,
): Promise<RedriveResult> => {
  const dir = dirname(path);
  const working = `${path}.${process.pid}.redriving`;
  const left = (await readdir(dir).catch(() => [] as string[]))
    .filter((name) => name.startsWith(`${basename(path)}.`) && name.endsWith(".redriving"))
    .map((name) => join(dir, name));
  const taken = await rename(path, working).then(
    () => [working],
    (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? [] : Promise.reject(error)),
  );
  const result: RedriveResult = { read: 0, sent: 0, refused: 0 };
  for (const file of [...left, ...taken]) {
    const entries = (await readFile(file, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((text) => {
        const e = JSON.parse(text) as Line;
        return { record: { topic: e.t, key: e.k, value: e.v, eventId: e.id }, reason: e.reason };
      });
    result.read += entries.length;
    const back: string[] = [];
    for (const [index, entry] of entries.entries()) {
      if (result.failure !== undefined) {
        back.push(...entries.slice(index).map(lineOf));
        break;
      }
      try {
        await send(resent(entry.record));
        result.sent++;
      } catch (error) {
        if (error instanceof KafkaWriteError && FAILURE_POLICY[error.kind].records === "set_aside") {
          back.push(lineOf({ record: entry.record, reason: error.reason }));
          result.refused++;
        } else {
          back.push(lineOf(entry));
          result.failure = error;
        }
      }
    }
    // Back in the file whatever its bounds: these were in it already.
    if (back.length > 0) await appendDurably(path, back.join(""));
    await rm(file);
  }
  return result;
};
