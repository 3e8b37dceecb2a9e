import { describe, expect, it } from "vitest";
import { type BehaviorEvent, EXAMPLE_EVENTS } from "../../../src/core/index.ts";
import { EdgeMetrics } from "../../../src/edge/metrics.ts";
import { type Delivery, type Forwarder, RelayUnavailableError } from "../../../src/edge/ports.ts";
import { type QueuedMessage, tryQueued } from "../../../src/edge/queue.ts";
import { EdgeSettings, retryScheduleOf } from "../../../src/edge/settings.ts";

/** The schedule of an edge with default settings. */
const DEFAULT_RETRY_SCHEDULE = retryScheduleOf(
  EdgeSettings.parse({ RELAY_URL: "http://relay.test", EDGE_SECRET: "s".repeat(32) }),
);

const events = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ ...EXAMPLE_EVENTS.video_data, position: i }) as BehaviorEvent);

const unreachable: Forwarder = {
  forward: async () => {
    throw new RelayUnavailableError("down");
  },
  quarantine: async () => {
    throw new RelayUnavailableError("down");
  },
};

describe("edge queue schedule", () => {
  it("refuses settings whose schedule outlasts Cloudflare's 100 retries, naming the variable", () => {
    const parsed = EdgeSettings.safeParse({
      RELAY_URL: "http://relay.test",
      EDGE_SECRET: "s".repeat(32),
      QUEUE_RETRY_MAX_SECONDS: "60",
    });
    expect(parsed.error?.issues.map((i) => i.path.join("."))).toEqual(["QUEUE_GIVE_UP_SECONDS"]);
  });

  it("rides out a relay outage of more than 6 hours within Cloudflare's 100 retries, then dead-letters", async () => {
    const start = 0;
    let now = start;
    let message: QueuedMessage = { events: events(3), queued_at: start };
    for (let retry = 1; ; retry++) {
      const step = await tryQueued(
        message,
        retry,
        unreachable,
        new EdgeMetrics(),
        DEFAULT_RETRY_SCHEDULE,
        now,
      );
      if (step.action === "dead-letter") {
        expect(now - start).toBeGreaterThan(6 * 3600 * 1000);
        expect(retry).toBeLessThan(100);
        expect("refusals" in step.message && step.message.refusals.map((r) => r.reason)).toEqual([
          "undeliverable",
          "undeliverable",
          "undeliverable",
        ]);
        return;
      }
      expect(step.action).toBe("retry");
      if (step.action !== "retry") return;
      expect(step.delaySeconds).toBeLessThanOrEqual(12 * 3600);
      now += step.delaySeconds * 1000;
      message = step.message;
    }
  });

  it("retries only what the relay did not store, and any failure (not only 'unreachable')", async () => {
    const answers: Delivery["status"][] = ["stored", "retry", "stored"];
    const partly: Forwarder = {
      forward: async (sent) =>
        sent.map((e) => ({ status: answers[e.position as number] ?? "stored" }) as Delivery),
      quarantine: async () => undefined,
    };
    const step = await tryQueued(
      { events: events(3), queued_at: 0 },
      1,
      partly,
      new EdgeMetrics(),
      DEFAULT_RETRY_SCHEDULE,
      1000,
    );
    expect(
      step.action === "retry" && "events" in step.message && step.message.events.map((e) => e.position),
    ).toEqual([1]);

    const broken: Forwarder = {
      forward: async () => {
        throw new Error("the relay refused the signature");
      },
      quarantine: async () => undefined,
    };
    const again = await tryQueued(
      { events: events(1), queued_at: 0 },
      1,
      broken,
      new EdgeMetrics(),
      DEFAULT_RETRY_SCHEDULE,
      0,
    );
    expect(again.action).toBe("retry");
  });

  it("never gives up on refusals: they are retried at the longest delay", async () => {
    const step = await tryQueued(
      { refusals: [{ reason: "invalid_event", errors: [], event: {} }], queued_at: 0 },
      50,
      unreachable,
      new EdgeMetrics(),
      DEFAULT_RETRY_SCHEDULE,
      30 * 24 * 3600 * 1000,
    );
    expect(step).toMatchObject({ action: "retry", delaySeconds: DEFAULT_RETRY_SCHEDULE.maxDelaySeconds });
  });
});
