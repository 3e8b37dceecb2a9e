/** Size limits shared by every ingestion path; transports enforce them before parsing where they can. */

/** Events in one batch call (SPEC §6). */
export const MAX_EVENTS_PER_BATCH = 100;

/** One event as UTF-8 JSON. Generous for any real interaction, small enough to keep Kafka batches healthy. */
export const MAX_EVENT_BYTES = 32 * 1024;

/** One request body after decompression: a full batch of typical events with room to spare. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/** How far in the future a client timestamp may be before it is flagged as clock skew. */
export const MAX_CLOCK_SKEW_MS = 60 * 60 * 1000;

/** How deeply free JSON (extra_data, scenario members) may nest; deeper values cannot be re-serialised safely. */
export const MAX_JSON_DEPTH = 32;
