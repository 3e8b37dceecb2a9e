import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import type { Context } from "hono";
import { ApiError, bodyEncoding, MAX_REQUEST_BYTES, parseJsonBody } from "../../core/index.ts";
import type { HttpEnv } from "../../http/middleware.ts";

/**
 * Reads a JSON body: 415 for another content type or a Content-Encoding other than gzip, 400 for bytes
 * that are not UTF-8 or JSON that does not parse, 413 past 1 MiB inflated, 429 `overloaded` when the
 * relay's body budget has no room (taken from the declared length before reading, and from the bytes
 * read and inflated before parsing).
 */
export const jsonBody = async (c: Context<HttpEnv>): Promise<unknown> => {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError("unsupported_media_type", "send the body as application/json");
  }
  const encoding = bodyEncoding(c.req.header("content-encoding"));
  const tab = c.get("bodyTab");
  const declared = Number(c.req.header("content-length") ?? Number.NaN);
  if (Number.isSafeInteger(declared)) tab.take(declared);
  const bytes = await c.req.arrayBuffer();
  if (!Number.isSafeInteger(declared)) tab.take(bytes.byteLength);
  if (encoding === "identity") return parseJsonBody(bytes);
  const inflated = await inflate(bytes);
  tab.take(inflated.byteLength);
  return parseJsonBody(inflated);
};

const gunzipAsync = promisify(gunzip);

/** A gzip body inflated, stopping at the request limit: a gzip bomb costs 1 MiB, not its full size. */
const inflate = async (bytes: ArrayBuffer): Promise<Uint8Array> => {
  try {
    return await gunzipAsync(new Uint8Array(bytes), { maxOutputLength: MAX_REQUEST_BYTES });
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new ApiError(
        "payload_too_large",
        `the decompressed body may be at most ${MAX_REQUEST_BYTES} bytes`,
      );
    }
    throw new ApiError("malformed_body", "the body is marked gzip but does not decompress");
  }
};
