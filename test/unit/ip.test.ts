import { describe, expect, it } from "vitest";
import { anonymizeIp, EXAMPLE_EVENTS, validateEvent } from "../../src/core/index.ts";
import { configFor, fixedEnvironment } from "../support/core.ts";

describe("IP anonymisation", () => {
  it.each([
    ["203.0.113.77", "203.0.113.0"],
    ["10.0.0.0", "10.0.0.0"],
    ["2001:0db8:85a3:08d3:1319:8a2e:0370:7344", "2001:db8:85a3::"],
    ["2001:db8::1", "2001:db8:0::"],
    ["::1", "0:0:0::"],
    ["fe80::", "fe80:0:0::"],
    ["2001:db8:1:2::", "2001:db8:1::"],
    ["::ffff:192.0.2.1", "0:0:0::"],
  ])("%s → %s", (ip, network) => {
    expect(anonymizeIp(ip)).toBe(network);
  });

  it("applies when the event's tracking config asks for it, and only then", () => {
    const event = { ...EXAMPLE_EVENTS.video_data, context: { device_type: "mobile", ip: "203.0.113.77" } };
    const target = { tenant_id: event.tenant_id, scenario_id: event.scenario_id };
    const config = configFor("video_data", target, { anonymize_ip: true });
    const cut = validateEvent(event, config, fixedEnvironment());
    expect(cut.ok && cut.event.context.ip).toBe("203.0.113.0");
    const kept = validateEvent(event, configFor("video_data", target), fixedEnvironment());
    expect(kept.ok && kept.event.context.ip).toBe("203.0.113.77");
  });
});
