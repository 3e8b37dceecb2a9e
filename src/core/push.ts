/**
 * How the relay signs what it pushes to the edge (config and key changes), written once for both
 * sides: HMAC-SHA256 over `{timestamp}.{body}`, hex, in `x-edge-signature`, with the epoch-ms
 * timestamp in `x-edge-timestamp`. The edge refuses a signature it has seen and a timestamp outside
 * the window, so a captured push cannot be replayed.
 */
export const PUSH_PATH = "/api/v1/edge/push";
export const PUSH_SIGNATURE_HEADER = "x-edge-signature";
export const PUSH_TIMESTAMP_HEADER = "x-edge-timestamp";
export const PUSH_WINDOW_MS = 60_000;

export const pushSigningInput = (timestamp: number, body: string): string => `${timestamp}.${body}`;
