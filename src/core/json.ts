import { ApiError } from "./errors.ts";

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
