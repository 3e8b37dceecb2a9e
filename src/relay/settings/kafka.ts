import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "@platformatic/kafka";
import * as z from "zod";
import { listSetting } from "./list.ts";

/** Kafka's bootstrap brokers, as the relay and the CLI read them: `host:port,host:port`. */
export const KafkaBrokersSetting = listSetting("127.0.0.1:9092").pipe(z.array(z.string().min(1)).min(1));

/** How the relay's Kafka clients (the write path, live views, the auditor) reach the cluster. */
export const KafkaSettings = z.object({
  KAFKA_BROKERS: KafkaBrokersSetting,
  KAFKA_CLIENT_ID: z.string().default("behavior-relay"),
  /** PLAINTEXT locally; SASL_SSL against a managed cluster (docs/security.md). */
  KAFKA_SECURITY_PROTOCOL: z.enum(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]).default("PLAINTEXT"),
  KAFKA_SASL_MECHANISM: z.enum(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]).default("SCRAM-SHA-512"),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  /** PEM files: the CA that signed the brokers' certificates, and a client certificate and key for mTLS. */
  KAFKA_TLS_CA_FILE: z.string().min(1).optional(),
  KAFKA_TLS_CERT_FILE: z.string().min(1).optional(),
  KAFKA_TLS_KEY_FILE: z.string().min(1).optional(),
});
export type KafkaSettings = z.infer<typeof KafkaSettings>;

/** SASL needs its credentials, and a client certificate its key. */
export const checkKafkaSettings = (s: KafkaSettings, ctx: z.RefinementCtx): void => {
  if (s.KAFKA_SECURITY_PROTOCOL.startsWith("SASL_")) {
    for (const key of ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"] as const) {
      if (s[key] === undefined) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `is required with ${s.KAFKA_SECURITY_PROTOCOL}`,
        });
      }
    }
  }
  if ((s.KAFKA_TLS_CERT_FILE === undefined) !== (s.KAFKA_TLS_KEY_FILE === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["KAFKA_TLS_KEY_FILE"],
      message: "a client certificate needs its key, and the other way round",
    });
  }
};

/** TLS and SASL options of the Kafka clients, from the settings (certificate files are read here, once). */
export const kafkaConnection = (s: KafkaSettings): Pick<ConnectionOptions, "tls" | "sasl"> => {
  const tls = s.KAFKA_SECURITY_PROTOCOL === "SSL" || s.KAFKA_SECURITY_PROTOCOL === "SASL_SSL";
  const read = (file: string | undefined) => (file === undefined ? undefined : readFileSync(file, "utf8"));
  return {
    ...(tls
      ? {
          tls: {
            ca: read(s.KAFKA_TLS_CA_FILE),
            cert: read(s.KAFKA_TLS_CERT_FILE),
            key: read(s.KAFKA_TLS_KEY_FILE),
          },
        }
      : {}),
    ...(s.KAFKA_SECURITY_PROTOCOL.startsWith("SASL_")
      ? {
          sasl: {
            mechanism: s.KAFKA_SASL_MECHANISM,
            username: s.KAFKA_SASL_USERNAME,
            password: s.KAFKA_SASL_PASSWORD,
          },
        }
      : {}),
  };
};
