import pRetry from "p-retry";
import type { BehaviorEvent } from "../../core/index.ts";
import { BatchFailure, problemOutcome, type Send, type TrackOutcome } from "./transport.ts";

interface Pending {
  event: BehaviorEvent;
  bytes: number;
  resolve: (outcome: TrackOutcome) => void;
}

/** Bytes per request, well under the servers' 1 MiB body limit. */
const MAX_BATCH_BYTES = 512 * 1024;

/**
 * Between attempts: 100 ms doubling to at most 5 s, each stretched by a random 1–2× so that clients
 * that failed together do not come back together; no more than 30 s of retrying in all.
 */
const RETRY_BACKOFF = { minTimeout: 100, factor: 2, maxTimeout: 5000, randomize: true, maxRetryTime: 30_000 };

export interface BatchSettings {
  /** A batch goes when it holds this many events… */
  maxBatchEvents: number;
  /** …or when its oldest event has waited this long. */
  lingerMs: number;
  /** Attempts per batch for retryable failures. */
  attempts: number;
}

/**
 * The client's batching and retries, whatever the transport: checked events wait until a batch is full
 * (in events or bytes) or has lingered, and go one batch at a time so a user's events keep their order.
 * Retryable failures are retried with exponential backoff and jitter; each event is answered once.
 */
export class Batcher {
  #queue: Pending[] = [];
  #queuedBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sending: Promise<void> | undefined;
  readonly #send: Send;
  readonly #settings: BatchSettings;

  constructor(send: Send, settings: BatchSettings) {
    this.#send = send;
    this.#settings = settings;
  }

  /** Queues an event (`bytes` of JSON); resolves with its outcome, never rejects. */
  add(event: BehaviorEvent, bytes: number): Promise<TrackOutcome> {
    return new Promise((resolve) => {
      this.#queue.push({ event, bytes, resolve });
      this.#queuedBytes += bytes;
      const full =
        this.#queue.length >= this.#settings.maxBatchEvents || this.#queuedBytes >= MAX_BATCH_BYTES;
      if (full) this.#flushSoon(0);
      else this.#flushSoon(this.#settings.lingerMs);
    });
  }

  /** Sends everything queued and waits for the answers. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#sending !== undefined) {
      this.#flushSoon(0);
      await this.#sending;
    }
  }

  #flushSoon(delay: number): void {
    if (this.#sending !== undefined) return;
    if (delay === 0 || this.#timer === undefined) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#sending ??= this.#drain().finally(() => {
          this.#sending = undefined;
          if (this.#queue.length > 0) this.#flushSoon(0);
        });
      }, delay);
    }
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#take();
      const outcomes = await this.#deliver(batch.map((p) => p.event));
      for (const [i, p] of batch.entries()) p.resolve(outcomes[i] as TrackOutcome);
    }
  }

  #take(): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    while (this.#queue.length > 0 && batch.length < this.#settings.maxBatchEvents) {
      const next = this.#queue[0] as Pending;
      if (batch.length > 0 && bytes + next.bytes > MAX_BATCH_BYTES) break;
      batch.push(next);
      bytes += next.bytes;
      this.#queue.shift();
    }
    this.#queuedBytes -= bytes;
    return batch;
  }

  /** Sends a batch; retries the whole batch on a retryable failure and the events the server called retryable. */
  async #deliver(events: readonly BehaviorEvent[]): Promise<TrackOutcome[]> {
    const outcomes: (TrackOutcome | undefined)[] = events.map(() => undefined);
    let todo = events.map((_, i) => i);
    const attempt = async () => {
      try {
        const answers = await this.#send(todo.map((i) => events[i] as BehaviorEvent));
        todo.forEach((index, j) => {
          outcomes[index] = answers[j];
        });
      } catch (error) {
        const failure =
          error instanceof BatchFailure ? error : new BatchFailure("internal", String(error), false);
        for (const index of todo) {
          outcomes[index] = problemOutcome(failure.code, failure.message, [], failure.retryable);
        }
      }
      todo = todo.filter((i) => {
        const outcome = outcomes[i] as TrackOutcome;
        return !outcome.success && outcome.retryable;
      });
      if (todo.length > 0) throw new Error(`${todo.length} events to send again`);
    };
    // Every event has its answer whether or not the last attempt left some to retry.
    await pRetry(attempt, { ...RETRY_BACKOFF, retries: this.#settings.attempts - 1 }).catch(() => undefined);
    return outcomes as TrackOutcome[];
  }
}
