import type { BehaviorEvent } from "./event.ts";
import { type Issue, issue } from "./field-spec.ts";
import { MAX_EVENT_BYTES } from "./limits.ts";

/** UTF-8 length of a string without allocating; lone surrogates count as the 3 bytes of U+FFFD. */
export const utf8ByteLength = (text: string): number => {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (
      code >= 0xd800 &&
      code <= 0xdbff &&
      i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      bytes += 2; // the pair is 2 UTF-16 units and 4 UTF-8 bytes
      i++;
    } else bytes += 2;
  }
  return bytes;
};

/** A lone UTF-16 surrogate as JSON.stringify escapes it (an even run of backslashes before it is text). */
const LONE_SURROGATE = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/;

/**
 * The event as the JSON written to Kafka, or why it cannot be: more than {@link MAX_EVENT_BYTES}
 * (`payload_too_large`), or text that is not Unicode (a lone surrogate, which JSON allows but UTF-8
 * consumers turn into U+FFFD or reject: `invalid_event`).
 */
export const encodeEvent = (
  event: BehaviorEvent,
): { ok: true; json: string } | { ok: false; code: "payload_too_large" | "invalid_event"; error: Issue } => {
  const json = JSON.stringify(event);
  // Each UTF-16 unit is at most 3 UTF-8 bytes, so short events need no count.
  if (json.length * 3 > MAX_EVENT_BYTES) {
    const bytes = utf8ByteLength(json);
    if (bytes > MAX_EVENT_BYTES) {
      return {
        ok: false,
        code: "payload_too_large",
        error: issue("", "too_big", `is ${bytes} bytes as JSON; at most ${MAX_EVENT_BYTES} are allowed`),
      };
    }
  }
  if (json.includes("\\ud") && LONE_SURROGATE.test(json)) {
    return {
      ok: false,
      code: "invalid_event",
      error: issue("", "invalid_value", "contains text that is not valid Unicode (a lone UTF-16 surrogate)"),
    };
  }
  return { ok: true, json };
};
