import { ApiError } from "./errors.ts";
import { MAX_JSON_DEPTH } from "./limits.ts";

/** A JSON object (not null, not an array): what events, contexts and scenario members must be. */
export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * JSON.stringify of any value a caller sent, or undefined when it cannot be written: nesting deep
 * enough to overflow the stack (legal to parse), or, from a JavaScript caller, a cycle or a bigint.
 * For refused events, which are kept and shown as they came: they were never held to the limits.
 */
export const jsonOfAnything = (value: unknown): string | undefined => {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) return undefined;
    throw error;
  }
};

/** Web standard in every runtime we support; src/core is type-checked without their globals. */
interface Utf8Decoder {
  decode(bytes: Uint8Array | ArrayBuffer): string;
}
const utf8 = new (
  globalThis as unknown as { TextDecoder: new (label: string, options: object) => Utf8Decoder }
).TextDecoder("utf-8", { fatal: true });

/**
 * A request body as JSON, strictly: bytes that are not UTF-8 are refused (not turned into U+FFFD and
 * stored), and so is text that does not parse. Both are 400 `malformed_body`, for edge and relay alike.
 */
export const parseJsonBody = (bytes: Uint8Array | ArrayBuffer): unknown => {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (error) {
    // A fatal TextDecoder throws TypeError on bytes that are not UTF-8; anything else is not the body's.
    if (!(error instanceof TypeError)) throw error;
    throw new ApiError("malformed_body", "the body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError("malformed_body", `the body is not valid JSON: ${(error as Error).message}`);
  }
};

/**
 * The Content-Encoding of a request body, of the two edge and relay take (gzip, or none); any other
 * (br, deflate, zstd…) is 415 `unsupported_media_type`, not bytes parsed as if they were JSON.
 */
export const bodyEncoding = (header: string | null | undefined): "identity" | "gzip" => {
  const encoding = (header ?? "").trim().toLowerCase();
  if (encoding === "" || encoding === "identity") return "identity";
  if (encoding === "gzip" || encoding === "x-gzip") return "gzip";
  throw new ApiError(
    "unsupported_media_type",
    `Content-Encoding ${encoding} is not supported; send the body gzip-compressed or not compressed`,
  );
};

/**
 * How deeply a JSON text nests (objects and arrays), read from the text without parsing it, up to
 * `stopAt`: `stopAt + 1` means deeper. Parsing deep JSON works, but everything that walks the value
 * afterwards (JSON.stringify, structuredClone, validation) recurses and overflows the stack.
 */
export const jsonNestingDepth = (text: string, stopAt: number): number => {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      // A backslash escapes the next character.
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAt) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
};

/**
 * The deepest record value read as an event: twice what free JSON in an event may nest (the envelope
 * and scenario members add a few levels), so every event that could pass is read, and its verdict is
 * reached without walking anything deeper.
 */
export const MAX_STORED_DEPTH = 2 * MAX_JSON_DEPTH;

/** Why a record of a tenant's topic cannot be read as an event. */
export type UnreadableRecord = "no_value" | "not_json" | "too_deep" | "not_an_object";

/**
 * A record value of a tenant's topic as an event, or why it is none. Direct writers may put anything
 * into a topic (a tombstone, text, a number, JSON nested thousands deep): readers (the auditor, live
 * views) take every record through here and never fail on one.
 */
export const readStoredEvent = (
  value: string | null | undefined,
):
  | { ok: true; event: Record<string, unknown> }
  | { ok: false; unreadable: UnreadableRecord; message: string } => {
  if (value === null || value === undefined) {
    return { ok: false, unreadable: "no_value", message: "the record has no value (a tombstone)" };
  }
  if (jsonNestingDepth(value, MAX_STORED_DEPTH) > MAX_STORED_DEPTH) {
    return {
      ok: false,
      unreadable: "too_deep",
      message: `the record's JSON nests deeper than ${MAX_STORED_DEPTH} levels`,
    };
  }
  let event: unknown;
  try {
    event = JSON.parse(value);
  } catch (error) {
    // JSON.parse throws SyntaxError for text that is not JSON; anything else is not the record's doing.
    if (!(error instanceof SyntaxError)) throw error;
    return { ok: false, unreadable: "not_json", message: `the record is not JSON: ${error.message}` };
  }
  if (!isPlainObject(event)) {
    const what = event === null ? "null" : Array.isArray(event) ? "an array" : `a ${typeof event}`;
    return { ok: false, unreadable: "not_an_object", message: `the record is ${what}, not an event object` };
  }
  return { ok: true, event };
};
