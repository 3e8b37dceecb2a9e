/**
 * The two side effects validation needs, behind a port so tests can fix them and every runtime
 * (Node, Workers, Deno, browsers) supplies its own; the default uses Web Crypto and Date.now.
 */
export interface Environment {
  /** Current time, epoch milliseconds. */
  now(): number;
  /** Fills the array with random bytes. */
  randomBytes(bytes: Uint8Array): void;
}

interface WebCrypto {
  getRandomValues(bytes: Uint8Array): Uint8Array;
}

/**
 * Random bytes drawn from Web Crypto in blocks: one getRandomValues call costs about as much as
 * validating an event, so ids take their 8 bytes from a 4 KiB pool that is refilled when used up.
 */
const pool = new Uint8Array(4096);
let poolOffset = pool.length;

export const defaultEnvironment: Environment = {
  now: () => Date.now(),
  randomBytes: (bytes) => {
    if (bytes.length > pool.length) throw new RangeError("at most 4096 random bytes at a time");
    if (poolOffset + bytes.length > pool.length) {
      // Web Crypto is a global in every runtime we support; src/core is type-checked without them.
      (globalThis as unknown as { crypto: WebCrypto }).crypto.getRandomValues(pool);
      poolOffset = 0;
    }
    for (let i = 0; i < bytes.length; i++) bytes[i] = pool[poolOffset++] as number;
  },
};

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** `evt_` + 16 lowercase hex characters (64 random bits), the id the server gives an event that has none. */
export const newEventId = (env: Environment): string => {
  const bytes = new Uint8Array(8);
  env.randomBytes(bytes);
  let id = "evt_";
  for (const byte of bytes) id += HEX[byte];
  return id;
};

export const GENERATED_EVENT_ID = /^evt_[0-9a-f]{16}$/;
