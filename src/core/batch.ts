import { type Problem, problem } from "./errors.ts";
import { isPlainObject } from "./json.ts";
import { MAX_EVENTS_PER_BATCH } from "./limits.ts";

/**
 * The body of a batch call: `{ "events": [...] }` with 1 to {@link MAX_EVENTS_PER_BATCH} entries.
 * The entries are validated one by one afterwards, so one bad event does not fail the others.
 */
export const parseBatch = (
  input: unknown,
): { ok: true; events: unknown[] } | { ok: false; problem: Problem } => {
  if (!isPlainObject(input) || !Array.isArray(input.events)) {
    return {
      ok: false,
      problem: problem("invalid_request", "the body must be an object with an events array", {
        errors: [{ path: "events", message: "events must be an array of events" }],
      }),
    };
  }
  const { events } = input;
  if (events.length === 0) {
    return {
      ok: false,
      problem: problem("invalid_request", "the batch is empty", {
        errors: [{ path: "events", message: "events must hold at least one event" }],
      }),
    };
  }
  if (events.length > MAX_EVENTS_PER_BATCH) {
    return {
      ok: false,
      problem: problem(
        "payload_too_large",
        `a batch holds at most ${MAX_EVENTS_PER_BATCH} events, got ${events.length}`,
        {
          errors: [{ path: "events", message: `events must hold at most ${MAX_EVENTS_PER_BATCH} events` }],
        },
      ),
    };
  }
  return { ok: true, events };
};
