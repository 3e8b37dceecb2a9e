import { ApiError, MAX_REQUEST_BYTES, parseJsonBody } from "../core/index.ts";

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** Reads a stream into one buffer, refusing more than `limit` bytes without buffering them. */
const readLimited = async (
  stream: ReadableStream<Uint8Array>,
  limit: number,
  what: string,
): Promise<Uint8Array> => {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new ApiError("payload_too_large", `the ${what} may be at most ${limit} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
};

const isGzip = (bytes: Uint8Array) => bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];

/**
 * The JSON body of a browser or app request. Accepts `application/json` and `text/plain` (what
 * `sendBeacon` and keepalive `fetch` send without a preflight), gzip detected from the bytes whatever the
 * headers claim, and caps both the compressed and the decompressed size, so a gzip bomb stops at the
 * limit instead of filling memory.
 */
export const readJsonBody = async (request: Request): Promise<unknown> => {
  const type = (request.headers.get("content-type") ?? "text/plain").toLowerCase();
  if (!/^(application\/json|text\/plain)\s*(;|$)/.test(type)) {
    throw new ApiError("unsupported_media_type", "send the body as application/json or text/plain");
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_REQUEST_BYTES)
    throw new ApiError("payload_too_large", `the body may be at most ${MAX_REQUEST_BYTES} bytes`);
  if (request.body === null) throw new ApiError("malformed_body", "the body is empty");
  let bytes = await readLimited(request.body, MAX_REQUEST_BYTES, "body");
  if (isGzip(bytes)) {
    const inflated = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    try {
      bytes = await readLimited(inflated, MAX_REQUEST_BYTES, "decompressed body");
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError("malformed_body", "the body looks like gzip but does not decompress");
    }
  }
  return parseJsonBody(bytes);
};
