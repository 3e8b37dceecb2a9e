import { describe, expect, it } from "vitest";
import { loadAuditorSettings } from "../../../src/auditor/settings.ts";

describe("the auditor's settings", () => {
  it("work on a laptop with no environment at all, with the relay's defaults for what they share", () => {
    const settings = loadAuditorSettings({});
    expect(settings.AUDITOR_METRICS_PORT).toBe(8092);
    expect(settings.KAFKA_BROKERS).toEqual(["127.0.0.1:9092"]);
    expect(settings.AUDITOR_DISCOVER_MS).toBe(10_000);
  });

  it("name the variable that is wrong, as the auditor's", () => {
    expect(() => loadAuditorSettings({ AUDITOR_METRICS_PORT: "ninety" })).toThrow(
      /invalid auditor settings:\n {2}AUDITOR_METRICS_PORT/,
    );
    expect(() => loadAuditorSettings({ KAFKA_SECURITY_PROTOCOL: "SASL_SSL" })).toThrow(/KAFKA_SASL_USERNAME/);
  });
});
