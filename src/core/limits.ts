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

/*
 * Structure limits, checked on every path before anything else of an event (src/core/structure.ts):
 * free JSON is legal at any depth, width and length, and hostile values use exactly that. Deep nesting
 * overflows the stack of whatever serialises it again (a write followed by a 500 once did); wide
 * objects and long keys come back to the caller and into metrics as field paths, one per key.
 */

/** Levels of objects and arrays under a field of the event (`extra_data` itself is level 1). */
export const MAX_JSON_DEPTH = 32;

/** Keys of one object anywhere in an event, the event's own included. */
export const MAX_OBJECT_KEYS = 256;

/** Characters (UTF-16 units) of one key anywhere in an event. */
export const MAX_KEY_LENGTH = 256;

/**
 * Characters (UTF-16 units) of one string anywhere in an event: a longer one could not fit in
 * {@link MAX_EVENT_BYTES} anyway, and refusing it here names its field and spares serialising it.
 */
export const MAX_STRING_LENGTH = 32 * 1024;

/**
 * The largest magnitude a number may have anywhere in an event: 2^53 − 1. Beyond it JSON readers that
 * use doubles (JavaScript, most stream processors, protobuf's Struct) cannot keep an integer exact, and
 * the number parsed from the body already may not be the one sent; such values must travel as strings.
 */
export const MAX_SAFE_NUMBER = Number.MAX_SAFE_INTEGER;

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
