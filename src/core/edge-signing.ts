import * as z from "zod";

/**
 * How the edge and the relay sign every call between them, written once for both sides. They share
 * one secret (`EDGE_SECRET`; during a rotation a comma-separated list: the first signs, any verifies).
 * A signature is HMAC-SHA256, hex, over `{purpose}.{timestamp}.{nonce}.` followed by the exact bytes
 * of the request (the pushed JSON, the forwarded JSON batch, the quarantined refusals, the feed path). The purpose keeps a
 * signature for one kind of call from being valid for another; the epoch-ms timestamp must be within
 * `SIGNATURE_WINDOW_MS` of the receiver's clock, and the receiver takes each signature once, so a
 * captured call can be neither altered nor replayed.
 */
export type SignedCall = "push" | "forward" | "feed" | "quarantine";

export const SIGNATURE_HEADER = "x-edge-signature";
export const TIMESTAMP_HEADER = "x-edge-timestamp";
export const NONCE_HEADER = "x-edge-nonce";
export const SIGNATURE_WINDOW_MS = 60_000;
/** Where the relay pushes config and key changes to the edge. */
export const PUSH_PATH = "/api/v1/edge/push";

export interface CallSignature {
  timestamp: number;
  nonce: string;
  signature: string;
}

/**
 * An `EDGE_SECRET` setting: comma-separated secrets of at least 32 characters each; the first signs,
 * each verifies. Empty when unset (edge calls are then refused). The relay's config and the edge's
 * entry points both parse it with this.
 */
export const EdgeSecretSetting = z
  .string()
  .default("")
  .transform((setting) =>
    setting
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().min(32, "each EDGE_SECRET must be at least 32 characters")));

/** The secrets of an `EDGE_SECRET` setting; throws, naming the rule, when one is too short. */
export const edgeSecrets = (setting: string | undefined): string[] => EdgeSecretSetting.parse(setting);

/**
 * HMAC-SHA256, as hex, over a text prefix followed by the body; and random nonces. Handed in by each
 * side (Web Crypto at the edge, node:crypto at the relay), so this module stays free of runtime APIs.
 */
export interface CallCrypto {
  hmacHex(secret: string, prefix: string, body: Uint8Array | string): Promise<string> | string;
  nonce(): string;
}

/** What a signature covers before the body. */
export const signingPrefix = (call: SignedCall, timestamp: number, nonce: string) =>
  `${call}.${timestamp}.${nonce}.`;

/** Signs one call with the first secret, at `now`, with a fresh nonce. */
export const signCall = async (
  cryptography: CallCrypto,
  secrets: readonly string[],
  call: SignedCall,
  body: Uint8Array | string,
  now: number = Date.now(),
): Promise<CallSignature> => {
  const [secret] = secrets;
  if (secret === undefined) throw new Error("EDGE_SECRET is not set");
  const nonce = cryptography.nonce();
  const signature = await cryptography.hmacHex(secret, signingPrefix(call, now, nonce), body);
  return { timestamp: now, nonce, signature };
};

/** A signature as the headers of an HTTP call (the relay's pushes, the edge's feed reads). */
export const signatureHeaders = (signed: CallSignature): Record<string, string> => ({
  [TIMESTAMP_HEADER]: String(signed.timestamp),
  [NONCE_HEADER]: signed.nonce,
  [SIGNATURE_HEADER]: signed.signature,
});

/** Constant-time comparison of two strings. */
const sameText = (a: string, b: string) => {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
};

/**
 * Why a signed call is refused, or undefined when its signature is good and timely. Replays are the
 * receiver's check (`ReplayGuard`, or the edge's KV), made after this one.
 */
export const signatureProblem = async (
  cryptography: CallCrypto,
  secrets: readonly string[],
  call: SignedCall,
  given: { timestamp: unknown; nonce: unknown; signature: unknown },
  body: Uint8Array | string,
  now: number = Date.now(),
): Promise<string | undefined> => {
  if (secrets.length === 0) return "calls between the edge and the relay are off: EDGE_SECRET is not set";
  const { timestamp, nonce, signature } = given;
  if (typeof signature !== "string" || signature === "") return "the call is not signed";
  if (typeof nonce !== "string" || nonce.length < 16 || nonce.length > 64)
    return "the call has no valid nonce";
  if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp))
    return "the call has no valid timestamp";
  if (Math.abs(now - timestamp) > SIGNATURE_WINDOW_MS)
    return "the call is not timestamped within the allowed window";
  for (const secret of secrets) {
    const expected = await cryptography.hmacHex(secret, signingPrefix(call, timestamp, nonce), body);
    if (sameText(signature, expected)) return undefined;
  }
  return "the signature does not match";
};

/**
 * Signatures taken within the window, so each is accepted once. Bounded: when it holds `capacity`
 * signatures that are all still within the window, new calls are refused (retryable) rather than
 * letting an old signature fall out and become replayable.
 */
export class ReplayGuard {
  readonly #seen = new Map<string, number>();
  readonly #capacity: number;

  constructor(capacity = 200_000) {
    this.#capacity = capacity;
  }

  /** "new" the first time a signature is offered within the window, "replayed" after, "full" when it cannot tell. */
  take(signature: string, now: number = Date.now()): "new" | "replayed" | "full" {
    // Map order is insertion order, which is time order: drop the expired ones from the front.
    for (const [seen, at] of this.#seen) {
      if (now - at <= 2 * SIGNATURE_WINDOW_MS) break;
      this.#seen.delete(seen);
    }
    if (this.#seen.has(signature)) return "replayed";
    if (this.#seen.size >= this.#capacity) return "full";
    this.#seen.set(signature, now);
    return "new";
  }
}
