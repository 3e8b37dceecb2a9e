import { describe, expect, it } from "vitest";
import { deviceOf, enrich } from "../../../src/edge/enrich.ts";

const headers = (userAgent: string, hints: Record<string, string> = {}) =>
  new Headers({ "user-agent": userAgent, ...hints });

/** Real user agents, as these devices and crawlers send them, and what the edge makes of each. */
const TABLE: [string, string, ReturnType<typeof deviceOf>][] = [
  [
    "iPhone, Safari",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    { device_type: "mobile", os: "iOS 17.2.1", bot: false },
  ],
  [
    "iPad, mobile mode",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    { device_type: "tablet", os: "iOS 16.6", bot: false },
  ],
  [
    // Indistinguishable from a Mac by its headers; the browser tracker tells it from the page.
    "iPadOS, desktop mode",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    { device_type: "pc", os: "macOS 10.15.7", bot: false },
  ],
  [
    "Android phone, Chrome",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    { device_type: "mobile", os: "Android 14", bot: false },
  ],
  [
    "Android tablet (Galaxy Tab S9)",
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    { device_type: "tablet", os: "Android 13", bot: false },
  ],
  [
    "HarmonyOS phone, Huawei Browser",
    "Mozilla/5.0 (Linux; Android 10; HarmonyOS; ELS-AN00; HMSCore 6.11.0.302) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.0.322 Mobile Safari/537.36",
    { device_type: "mobile", os: "HarmonyOS 10", bot: false },
  ],
  [
    "HarmonyOS NEXT phone (OpenHarmony), ArkWeb",
    "Mozilla/5.0 (Phone; OpenHarmony 4.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36 ArkWeb/4.1.6.1 Mobile",
    { device_type: "mobile", os: "OpenHarmony 4.0", bot: false },
  ],
  [
    "Windows, Chrome",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    { device_type: "pc", os: "Windows 10", bot: false },
  ],
  [
    "macOS, Chrome",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    { device_type: "pc", os: "macOS 10.15.7", bot: false },
  ],
  [
    "Linux, Firefox",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    { device_type: "pc", os: "Linux", bot: false },
  ],
  [
    "Googlebot smartphone",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    { device_type: "mobile", os: "Android 6.0.1", bot: true },
  ],
  [
    "Bingbot",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    { device_type: "pc", bot: true },
  ],
  ["curl", "curl/8.5.0", { device_type: "pc", bot: true }],
];

describe("device detection from the request headers", () => {
  it.each(TABLE)("%s", (_name, userAgent, expected) => {
    expect(deviceOf(headers(userAgent))).toEqual(expected);
  });

  it("prefers the client hints: Chrome's reduced user agent freezes the platform version", () => {
    const reduced =
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    expect(
      deviceOf(
        headers(reduced, { "sec-ch-ua-platform": '"Windows"', "sec-ch-ua-platform-version": '"15.0.0"' }),
      ),
    ).toEqual({ device_type: "pc", os: "Windows 15.0.0", bot: false });
    const androidReduced =
      "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
    expect(
      deviceOf(headers(androidReduced, { "sec-ch-ua-mobile": "?1", "sec-ch-ua-platform": '"Android"' })),
    ).toEqual({ device_type: "mobile", os: "Android", bot: false });
  });

  it("knows nothing of a request without a user agent, and does not call it a bot", () => {
    expect(deviceOf(new Headers())).toEqual({ device_type: "pc", bot: false });
  });
});

describe("enrichment of an event at the edge", () => {
  const event = { tenant_id: "mymx", context: { device_type: "tablet", ip: "198.51.100.1" } };
  const phone = deviceOf(headers(TABLE[0]?.[1] as string));

  it("replaces a client-sent ip with the connecting address, and keeps the client's device", () => {
    expect(enrich(event, { ip: "203.0.113.7" }, phone, false)).toEqual({
      tenant_id: "mymx",
      context: { device_type: "tablet", os: "iOS 17.2.1", ip: "203.0.113.7" },
    });
  });

  it("drops a client-sent ip when the client opted out of the address", () => {
    expect(enrich(event, { ip: "203.0.113.7" }, phone, true)).toEqual({
      tenant_id: "mymx",
      context: { device_type: "tablet", os: "iOS 17.2.1" },
    });
  });

  it("flags a bot's events instead of dropping them", () => {
    const bot = deviceOf(headers("curl/8.5.0"));
    expect(enrich({ tenant_id: "mymx" }, {}, bot, false)).toEqual({
      tenant_id: "mymx",
      context: { device_type: "pc", bot: true },
    });
  });

  it("leaves malformed input to validation", () => {
    expect(enrich({ context: "x" }, { ip: "203.0.113.7" }, phone, false)).toEqual({ context: "x" });
    expect(enrich([1], { ip: "203.0.113.7" }, phone, false)).toEqual([1]);
  });
});
