import { isbot } from "isbot";
import { UAParser } from "ua-parser-js";
import type { DeviceType } from "../core/index.ts";
import type { ClientInfo } from "./ports.ts";

/** What the edge can tell of a client from its request headers. */
export interface DeviceFacts {
  device_type: DeviceType;
  os?: string;
  /** A known crawler, monitor or HTTP library (isbot's list): its events are flagged, not dropped. */
  bot: boolean;
}

/** ua-parser-js's OS names as events carry them. */
const OS_NAMES: Record<string, string> = { "Mac OS": "macOS", "Chromium OS": "ChromeOS" };

/** A structured header's string (`"Android"`), unquoted; undefined when absent or empty. */
const hintString = (value: string | null): string | undefined => {
  const text = value?.trim().replace(/^"(.*)"$/, "$1");
  return text === undefined || text === "" ? undefined : text;
};

/**
 * Device type, OS and bot flag from the user agent (ua-parser-js) and, when the browser sends them,
 * the `Sec-CH-UA-*` client hints, which win: Chrome's reduced user agent freezes the Android and
 * Windows versions, and a mobile hint is the browser's own word. iPadOS in desktop mode sends a Mac's
 * user agent and no hints, so the edge sees macOS there; the browser tracker tells it from the page.
 */
export const deviceOf = (headers: Headers): DeviceFacts => {
  const userAgent = headers.get("user-agent") ?? "";
  const parsed = new UAParser(userAgent).getResult();
  const mobileHint = headers.get("sec-ch-ua-mobile")?.trim();
  const device_type: DeviceType =
    parsed.device.type === "tablet"
      ? "tablet"
      : mobileHint === "?1" || parsed.device.type === "mobile" || parsed.device.type === "wearable"
        ? "mobile"
        : "pc";
  const hintedOs = hintString(headers.get("sec-ch-ua-platform"));
  const osName = hintedOs ?? parsed.os.name;
  const osVersion = hintedOs ? hintString(headers.get("sec-ch-ua-platform-version")) : parsed.os.version;
  const os =
    osName === undefined
      ? undefined
      : `${OS_NAMES[osName] ?? osName}${osVersion === undefined ? "" : ` ${osVersion}`}`;
  const bot = userAgent !== "" && isbot(userAgent);
  return os === undefined ? { device_type, bot } : { device_type, os, bot };
};

/**
 * Fills what the edge knows: `context.ip` is the connecting address, replacing any the client sent
 * (a client's claim about its own address cannot be checked), or absent when the client opted out;
 * `context.location` from the edge's geo data and `device_type`/`os` from the request, unless the
 * client sent them; `context.bot` when the user agent is a known bot. Leaves malformed input to
 * validation.
 */
export const enrich = (input: unknown, client: ClientInfo, device: DeviceFacts, omitIp: boolean): unknown => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return input;
  const event = input as Record<string, unknown>;
  if (
    event.context !== undefined &&
    (typeof event.context !== "object" || event.context === null || Array.isArray(event.context))
  ) {
    return input;
  }
  const context = { ...(event.context as Record<string, unknown> | undefined) };
  delete context.ip;
  if (!omitIp && client.ip !== undefined) context.ip = client.ip;
  if (context.location === undefined && client.location !== undefined) context.location = client.location;
  context.device_type ??= device.device_type;
  if (device.os !== undefined) context.os ??= device.os;
  if (device.bot) context.bot = true;
  return { ...event, context };
};
