import { ApiError } from "./errors.ts";

/** Size limits shared by every ingestion path; transports enforce them before parsing where they can. */

/** Events in one batch call. */
export const MAX_EVENTS_PER_BATCH = 100;

/** One event as UTF-8 JSON. Generous for any real interaction, small enough to keep Kafka batches healthy. */
export const MAX_EVENT_BYTES = 32 * 1024;

/** One request body after decompression: a full batch of typical events with room to spare. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/** How far in the future a client timestamp may be before it is flagged as clock skew. */
export const MAX_CLOCK_SKEW_MS = 60 * 60 * 1000;

/** How deeply free JSON (extra_data, scenario members) may nest; deeper values cannot be re-serialised safely. */
export const MAX_JSON_DEPTH = 32;

/** What one request holds of a `BodyBudget`. */
export interface BodyTab {
  /** Takes `bytes` more as they arrive; throws `overloaded` (429, Retry-After 1) when the budget has no room. */
  take(bytes: number): void;
  /** Gives everything back once the request is answered. */
  close(): void;
}

/**
 * The request-body bytes a process holds at once. Each request takes its bytes as they arrive and gives
 * them back when answered; beyond the budget a request is refused (429, retry in a second) before it is
 * buffered further or parsed (parsing can take ten times the bytes). So a flood of large bodies costs
 * refusals, not memory: a process's memory for bodies is bounded by configuration, not by its callers.
 */
export class BodyBudget {
  #free: number;

  constructor(maxBytes: number) {
    this.#free = maxBytes;
  }

  /** Runs one request with a tab of its own, closed however the request ends. */
  async during<T>(request: (tab: BodyTab) => Promise<T>): Promise<T> {
    const tab = this.open();
    try {
      return await request(tab);
    } finally {
      tab.close();
    }
  }

  open(): BodyTab {
    let held = 0;
    return {
      take: (bytes) => {
        if (bytes > this.#free) {
          throw new ApiError(
            "overloaded",
            "the server holds too many large request bodies right now; retry in a second",
            [],
            1,
          );
        }
        this.#free -= bytes;
        held += bytes;
      },
      close: () => {
        this.#free += held;
        held = 0;
      },
    };
  }
}
