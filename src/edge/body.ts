import { Gunzip } from "fflate";
import { ApiError, type BodyTab, bodyEncoding, MAX_REQUEST_BYTES, parseJsonBody } from "../core/index.ts";

const GZIP_MAGIC = [0x1f, 0x8b] as const;

const concat = (chunks: readonly Uint8Array[], size: number): Uint8Array => {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
};

/**
 * Reads a stream into one buffer, refusing more than `limit` bytes without buffering them, bytes the
 * process's body budget has no room for (`tab`), and a stream that has not ended within `timeoutMs`
 * (a client trickling its body in holds nothing for long).
 */
const readLimited = async (
  stream: ReadableStream<Uint8Array>,
  limit: number,
  what: string,
  tab: BodyTab,
  timeoutMs = Number.POSITIVE_INFINITY,
): Promise<Uint8Array> => {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    if (Number.isFinite(timeoutMs)) {
      timer = setTimeout(
        () => reject(new ApiError("request_timeout", `the ${what} did not arrive within ${timeoutMs} ms`)),
        timeoutMs,
      );
    }
  });
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), late]);
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw new ApiError("payload_too_large", `the ${what} may be at most ${limit} bytes`);
      tab.take(value.byteLength);
      chunks.push(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
  return concat(chunks, size);
};

/**
 * Gzip inflated a slice at a time, counting as it goes. The runtimes' DecompressionStream inflates a
 * written chunk whole (in workerd, 24 concurrent 64 KB bombs took 1.2 GB before a reader could stop
 * them), so fflate does it here: deflate expands at most about 1032:1, so 1 KiB slices keep what is
 * inflated beyond the limit to about 1 MiB before the count stops it.
 */
const GZIP_SLICE_BYTES = 1024;
const inflateLimited = (bytes: Uint8Array, limit: number, tab: BodyTab): Uint8Array => {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const gunzip = new Gunzip((chunk) => {
    size += chunk.byteLength;
    if (size > limit) {
      throw new ApiError("payload_too_large", `the decompressed body may be at most ${limit} bytes`);
    }
    tab.take(chunk.byteLength);
    chunks.push(chunk);
  });
  for (let at = 0; at < bytes.byteLength; at += GZIP_SLICE_BYTES) {
    gunzip.push(bytes.subarray(at, at + GZIP_SLICE_BYTES), at + GZIP_SLICE_BYTES >= bytes.byteLength);
  }
  return concat(chunks, size);
};

const isGzip = (bytes: Uint8Array) => bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];

/**
 * The JSON body of a browser or app request. Accepts `application/json` and `text/plain` (what
 * `sendBeacon` and keepalive `fetch` send without a preflight), gzip detected from the bytes whatever the
 * headers claim (another Content-Encoding than gzip is 415), and caps both the compressed and the decompressed size, so a gzip bomb stops at the
 * limit instead of filling memory.
 */
export const readJsonBody = async (
  request: Request,
  options: { timeoutMs: number; tab: BodyTab },
): Promise<unknown> => {
  const type = (request.headers.get("content-type") ?? "text/plain").toLowerCase();
  if (!/^(application\/json|text\/plain)\s*(;|$)/.test(type)) {
    throw new ApiError("unsupported_media_type", "send the body as application/json or text/plain");
  }
  // Only checked: gzip is recognised by its bytes, whatever the header says (beacons cannot set it).
  bodyEncoding(request.headers.get("content-encoding"));
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_REQUEST_BYTES)
    throw new ApiError("payload_too_large", `the body may be at most ${MAX_REQUEST_BYTES} bytes`);
  if (request.body === null) throw new ApiError("malformed_body", "the body is empty");
  let bytes = await readLimited(request.body, MAX_REQUEST_BYTES, "body", options.tab, options.timeoutMs);
  if (isGzip(bytes)) {
    try {
      bytes = inflateLimited(bytes, MAX_REQUEST_BYTES, options.tab);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError("malformed_body", "the body looks like gzip but does not decompress");
    }
  }
  return parseJsonBody(bytes);
};
