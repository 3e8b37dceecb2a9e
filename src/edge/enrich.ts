import type { ClientInfo } from "./ports.ts";

/** Device type and OS from a user agent, for clients that did not say (beacons rarely do). */
export const fromUserAgent = (
  userAgent: string,
): { device_type: "mobile" | "pc" | "tablet"; os?: string } => {
  const device_type = /iPad|Tablet|Nexus (7|9|10)|SM-T\d/i.test(userAgent)
    ? "tablet"
    : /Mobi|iPhone|iPod|Android/i.test(userAgent)
      ? "mobile"
      : "pc";
  const os =
    /(iPhone|iPad|iPod).*?OS (\d+)[_.](\d+)/.exec(userAgent)?.slice(2, 4).join(".").replace(/^/, "iOS ") ??
    /Android (\d+(\.\d+)?)/.exec(userAgent)?.[1]?.replace(/^/, "Android ") ??
    (/Windows NT/.test(userAgent)
      ? "Windows"
      : /Mac OS X/.test(userAgent)
        ? "macOS"
        : /CrOS/.test(userAgent)
          ? "ChromeOS"
          : /Linux/.test(userAgent)
            ? "Linux"
            : undefined);
  return os === undefined ? { device_type } : { device_type, os };
};

/**
 * Fills what the edge knows and the client did not send: `context.ip` from the connecting address
 * (unless the client opted out), `context.location` from the edge's geo data, and `device_type`/`os`
 * from the user agent. Never overrides a value the client sent; leaves malformed input to validation.
 */
export const enrich = (
  input: unknown,
  client: ClientInfo,
  userAgent: string | null,
  omitIp: boolean,
): unknown => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return input;
  const event = input as Record<string, unknown>;
  if (
    event.context !== undefined &&
    (typeof event.context !== "object" || event.context === null || Array.isArray(event.context))
  ) {
    return input;
  }
  const context = { ...(event.context as Record<string, unknown> | undefined) };
  if (!omitIp && context.ip === undefined && client.ip !== undefined) context.ip = client.ip;
  if (context.location === undefined && client.location !== undefined) context.location = client.location;
  if (userAgent !== null && (context.device_type === undefined || context.os === undefined)) {
    const guessed = fromUserAgent(userAgent);
    context.device_type ??= guessed.device_type;
    if (guessed.os !== undefined) context.os ??= guessed.os;
  }
  return { ...event, context };
};
