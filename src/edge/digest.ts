import type { CallCrypto } from "../core/index.ts";

/** Lowercase hex of bytes. */
export const hex = (bytes: ArrayBuffer): string =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

/** SHA-256 of a text as hex: how keys are looked up (the relay stores the same hash). */
export const sha256Hex = async (text: string): Promise<string> =>
  hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));

const hmacKeys = new Map<string, ReturnType<typeof crypto.subtle.importKey>>();

/** The edge's half of src/core/edge-signing.ts, on Web Crypto (Workers, Deno, Node all have it). */
export const webCallCrypto: CallCrypto = {
  hmacHex: async (secret, prefix, body) => {
    let key = hmacKeys.get(secret);
    if (key === undefined) {
      key = crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
      hmacKeys.set(secret, key);
    }
    const head = new TextEncoder().encode(prefix);
    const tail = typeof body === "string" ? new TextEncoder().encode(body) : body;
    const input = new Uint8Array(head.length + tail.length);
    input.set(head);
    input.set(tail, head.length);
    return hex(await crypto.subtle.sign("HMAC", await key, input));
  },
  nonce: () => crypto.randomUUID(),
};
