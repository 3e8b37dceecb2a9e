import { describe, expect, it } from "vitest";
import { CliError, EXIT } from "../../../src/cli/admin.ts";
import { CliSettings, loadCliSettings, settingFlag } from "../../../src/cli/settings.ts";

/** The error `run` throws, for its fields. */
const thrown = (run: () => unknown): CliError => {
  try {
    run();
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error("nothing thrown");
};

describe("the CLI's settings", () => {
  it("work on a laptop with no environment at all", () => {
    expect(loadCliSettings({})).toEqual({
      BEHAVIOR_INGEST_RELAY: "http://127.0.0.1:8080",
      BEHAVIOR_INGEST_TOKEN: undefined,
      KAFKA_BROKERS: ["127.0.0.1:9092"],
    });
  });

  it("read brokers as the relay does, and keep an empty token for the relay to refuse", () => {
    const settings = loadCliSettings({ KAFKA_BROKERS: " a:9092, b:9092 ,", BEHAVIOR_INGEST_TOKEN: "" });
    expect([settings.KAFKA_BROKERS, settings.BEHAVIOR_INGEST_TOKEN]).toEqual([["a:9092", "b:9092"], ""]);
  });

  it("refuse bad values as wrong usage, on one line naming each variable", () => {
    const error = thrown(() => loadCliSettings({ BEHAVIOR_INGEST_RELAY: "relay", KAFKA_BROKERS: " , " }));
    expect(error.exitCode).toBe(EXIT.usage);
    expect(error.message).toMatch(/^invalid CLI settings: BEHAVIOR_INGEST_RELAY: .+; KAFKA_BROKERS: .+$/);
  });

  it("read a flag as the setting it overrides, and name the flag when it is bad", () => {
    const brokers = settingFlag("--brokers", CliSettings.shape.KAFKA_BROKERS);
    expect(brokers("a:1,b:2")).toEqual(["a:1", "b:2"]);
    const error = thrown(() => settingFlag("--relay", CliSettings.shape.BEHAVIOR_INGEST_RELAY)("x"));
    expect([error.exitCode, error.message.split("\n")[0]]).toEqual([EXIT.usage, "--relay: Invalid URL"]);
  });
});
