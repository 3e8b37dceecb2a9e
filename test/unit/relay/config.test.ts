import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSettings } from "../../../src/relay/config.ts";
import { kafkaConnection } from "../../../src/relay/settings/kafka.ts";

describe("relay settings", () => {
  it("work on a laptop with no environment at all", () => {
    const settings = loadSettings({});
    expect(settings.KAFKA_BROKERS).toEqual(["127.0.0.1:9092"]);
    expect(kafkaConnection(settings)).toEqual({});
  });

  it("name the variable that is wrong", () => {
    expect(() => loadSettings({ RELAY_HTTP_PORT: "eighty" })).toThrow(/RELAY_HTTP_PORT/);
    expect(() => loadSettings({ KAFKA_SECURITY_PROTOCOL: "SASL_SSL" })).toThrow(
      /KAFKA_SASL_USERNAME: is required with SASL_SSL[\s\S]*KAFKA_SASL_PASSWORD/,
    );
    expect(() => loadSettings({ KAFKA_TLS_CERT_FILE: "client.pem" })).toThrow(/KAFKA_TLS_KEY_FILE/);
  });

  it("turn SASL_SSL settings into the Kafka client's TLS and SASL options", () => {
    const dir = mkdtempSync(join(tmpdir(), "tls-"));
    writeFileSync(join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
    const settings = loadSettings({
      KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
      KAFKA_SASL_MECHANISM: "SCRAM-SHA-256",
      KAFKA_SASL_USERNAME: "relay",
      KAFKA_SASL_PASSWORD: "secret",
      KAFKA_TLS_CA_FILE: join(dir, "ca.pem"),
    });
    expect(kafkaConnection(settings)).toEqual({
      tls: { ca: expect.stringContaining("BEGIN CERTIFICATE"), cert: undefined, key: undefined },
      sasl: { mechanism: "SCRAM-SHA-256", username: "relay", password: "secret" },
    });
    expect(kafkaConnection(loadSettings({ KAFKA_SECURITY_PROTOCOL: "SSL" }))).toEqual({
      tls: { ca: undefined, cert: undefined, key: undefined },
    });
  });
});
