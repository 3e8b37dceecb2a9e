import { existsSync, writeFileSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startDemoPage } from "../../scripts/demo/server.ts";
import { topicFor } from "../../src/core/index.ts";
import { adminClient, edgeTenant, newEdgeSecret, startWorkerdEdge } from "../support/edge.ts";
import { readTopic } from "../support/kafka.ts";
import { freePort } from "../support/ports.ts";
import { uniqueName } from "../support/random.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ADMIN = `admin_${uniqueName("t")}`;
const EDGE_SECRET = newEdgeSecret();
const EDGE_PORT = await freePort();
const DEMO_PORT = await freePort();
// A tenant of its own: the README test reads the demo tenant mymx on the same broker.
const TENANT = uniqueName("demo");
const VIEWPORT = { width: 800, height: 600 };

/** Scrolls until the item is half visible, in small steps so each item passed on the way is seen. */
const scrollTo = async (page: Page, id: string) => {
  for (let step = 0; step < 40; step++) {
    const box = await page.locator(`#${id}`).boundingBox(); // relative to the viewport
    const visible = box !== null && box.y >= 0 && box.y + box.height <= VIEWPORT.height;
    if (visible) break;
    await page.mouse.wheel(0, 150);
    await page.waitForTimeout(60);
  }
  await page.waitForTimeout(200); // IntersectionObserver reports on the next frames
};

describe("the demo page in headless Chromium, through the edge in workerd, the relay and Kafka", () => {
  let relay: Awaited<ReturnType<typeof startTestRelay>>;
  let edge: Awaited<ReturnType<typeof startWorkerdEdge>>;
  let demo: Awaited<ReturnType<typeof startDemoPage>>;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`,
      );
    }
    relay = await startTestRelay(brokers, [], {
      env: {
        ADMIN_TOKEN: ADMIN,
        EDGE_SECRET,
        EDGE_PUSH_URLS: `http://127.0.0.1:${EDGE_PORT}`,
        // The quality panel shows counts once flushed: sooner than the default 5 s.
        QUALITY_FLUSH_MS: "500",
      },
    });
    const keys = await edgeTenant(adminClient(relay.httpUrl, ADMIN), TENANT, [
      `http://127.0.0.1:${DEMO_PORT}`,
    ]);
    edge = await startWorkerdEdge({
      relayUrl: relay.httpUrl,
      edgeSecret: EDGE_SECRET,
      port: EDGE_PORT,
    });
    demo = await startDemoPage({
      port: DEMO_PORT,
      edge: `http://127.0.0.1:${EDGE_PORT}`,
      key: keys.publishable,
      tenant: TENANT,
      scenario: "vlog_feed",
      live: { relay: relay.httpUrl, token: ADMIN },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
    await edge?.dispose();
    await relay?.close();
  });

  it("shows each event sent and landing in Kafka live, and delivers the impressions, the click, and the play_end sent by beacon as the page closes", async () => {
    const user = uniqueName("browser_user");
    const page = await browser.newPage({ viewport: VIEWPORT });
    const requests: string[] = [];
    page.on("request", (request) => {
      if (request.url().includes("/collect")) requests.push(request.resourceType());
    });
    // A long flush interval: events leave only with a click (sent at once) or at pagehide.
    await page.goto(`${demo.url}/?user=${user}&flush=600000`);
    await page.waitForSelector("#video_11", { state: "attached" });
    await scrollTo(page, "video_5");
    await page.click("#video_5");
    // The page shows the click acknowledged by the edge, and then landed in Kafka, live.
    await page
      .locator("#sent li", { hasText: "click video_5" })
      .locator(".badge.acknowledged")
      .waitFor({ timeout: 15_000 });
    await page.locator("#landed li", { hasText: `${user} click video_5` }).waitFor({ timeout: 30_000 });
    // And the tenant's quality report counts what was acknowledged.
    await page.locator("#quality", { hasText: /^[1-9]\d* events: pass \d/ }).waitFor({ timeout: 30_000 });
    await expect(page.locator("#state").textContent()).resolves.toMatch(
      /queued \d+ · sent \d+ · acknowledged \d+/,
    );
    const screenshot = await page.screenshot({ fullPage: false });
    expect(screenshot.subarray(1, 4).toString()).toBe("PNG");
    // `DEMO_SCREENSHOT=docs/demo-live.png` keeps it for the docs.
    if (process.env.DEMO_SCREENSHOT) writeFileSync(process.env.DEMO_SCREENSHOT, screenshot);
    await page.click("#finish");
    await scrollTo(page, "video_11");
    await page.close({ runBeforeUnload: true });

    const records = await readTopic(brokers, topicFor(TENANT), 14, 60_000, (r) => r.key === user);
    const events = records.map((r) => JSON.parse(r.value));
    const impressions = events.filter((e) => e.action_type === "impression").map((e) => e.item_id);
    expect(new Set(impressions)).toEqual(new Set(Array.from({ length: 12 }, (_, i) => `video_${i}`)));
    expect(impressions).toHaveLength(12);
    expect(events.filter((e) => e.action_type === "click")).toMatchObject([
      { item_id: "video_5", position: 5 },
    ]);
    expect(events.filter((e) => e.action_type === "play_end")).toMatchObject([
      { item_id: "video_5", scenario_data: { video_data: { duration: 135 } } },
    ]);
    // Enriched at the edge from the browser's request.
    expect(events[0]).toMatchObject({ tenant_id: TENANT, context: { device_type: "pc", os: "Linux" } });
    // Only the click went by fetch: the play_end and the later impressions can only have come by the
    // pagehide beacon.
    expect(requests).toEqual(["fetch"]);
  }, 120_000);

  it("serves its API reference from the relay alone, and its Try it out calls the relay", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const elsewhere: string[] = [];
    await page.route("**/*", (route) => {
      if (route.request().url().startsWith(relay.httpUrl)) return route.continue();
      elsewhere.push(route.request().url());
      return route.abort();
    });
    await page.goto(`${relay.httpUrl}/api/v1/docs`);
    const track = page.locator("#operations-events-post_api_v1_behaviors_track");
    await track.waitFor({ timeout: 30_000 });
    await expect(
      page.locator("#operations-tracking_configs-post_api_v1_tracking_configs").count(),
    ).resolves.toBe(1);
    // The edge's internal feed is not part of the public document.
    await expect(page.getByText("/api/v1/edge/changes").count()).resolves.toBe(0);

    const health = page.locator("#operations-events-get_api_v1_behaviors_health");
    await health.locator(".opblock-summary").click();
    await health.getByRole("button", { name: "Try it out" }).click();
    await health.getByRole("button", { name: "Execute" }).click();
    const status = health.locator(".live-responses-table tbody .response-col_status").first();
    await status.waitFor({ timeout: 15_000 });
    await expect(status.textContent()).resolves.toContain("200");
    await expect(
      health.locator(".live-responses-table .microlight").first().textContent(),
    ).resolves.toContain("kafka_available");
    expect(elsewhere).toEqual([]);
    await page.close();
  }, 60_000);
});
