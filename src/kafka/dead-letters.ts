import { appendFile, mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import type { DeadLetters } from "./durable-sink.ts";

/**
 * The last resort for a record Kafka refuses for good even in its quarantine topic: one JSON line per
 * record, `{"t":topic,"k":key,"v":value,"id":event_id,"reason":…}`, appended and fsync'd. Counted by
 * `*_dead_letter_records_total`; `npm run redrive-dead-letters` sends the file again once the cause
 * (a topic's max.message.bytes, a policy) is fixed.
 */
export const fileDeadLetters = (path: string): DeadLetters => ({
  append: async (entries) => {
    await mkdir(dirname(path), { recursive: true });
    const lines = entries
      .map(
        ({ record: r, reason }) =>
          `${JSON.stringify({ t: r.topic, k: r.key, v: r.value, id: r.eventId, reason })}\n`,
      )
      .join("");
    await appendFile(path, lines);
    const handle = await open(path, "r");
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
  },
});
