// `npm run topics -- ensure [--partitions N] <tenant>…`: creates each tenant's topics (`user-behaviors-{tenant}` and its
// `-rejected` quarantine) with the relay's topic settings, for clusters where the relay may not create
// topics itself (TOPIC_AUTO_CREATE=false, a produce-only Kafka user). Reads the relay's settings
// (KAFKA_*, TOPIC_*) from the environment; run it with credentials that may create topics.
import { Admin } from "@platformatic/kafka";
import { isValidTenantId } from "../src/core/index.ts";
import { TopicProvisioner, tenantTopics, topicLayout } from "../src/kafka/topics.ts";
import { loadSettings } from "../src/relay/config.ts";
import { kafkaConnection } from "../src/relay/settings/kafka.ts";
import { topicSettingsOf } from "../src/relay/settings/write-path.ts";

const [command, ...rest] = process.argv.slice(2);
// A large tenant gets more partitions than the default (TOPIC_PARTITIONS): 12–24 by its traffic.
const partitionsFlag = rest[0] === "--partitions" ? Number(rest[1]) : undefined;
const tenants = partitionsFlag === undefined ? rest : rest.slice(2);
if (
  command !== "ensure" ||
  tenants.length === 0 ||
  (partitionsFlag !== undefined && !(Number.isInteger(partitionsFlag) && partitionsFlag >= 1))
) {
  console.error("usage: npm run topics -- ensure [--partitions N] <tenant_id>…");
  process.exit(2);
}
const invalid = tenants.filter((t) => !isValidTenantId(t));
if (invalid.length > 0) {
  console.error(
    `not a tenant id: ${invalid.join(", ")} (1–64 of a-z, 0-9 and _, starting with a letter or digit)`,
  );
  process.exit(2);
}
const settings = loadSettings(process.env);
const admin = new Admin({
  clientId: settings.KAFKA_CLIENT_ID,
  bootstrapBrokers: settings.KAFKA_BROKERS,
  ...kafkaConnection(settings),
});
const topicSettings = {
  ...topicSettingsOf(settings),
  partitions: partitionsFlag ?? settings.TOPIC_PARTITIONS,
};
const provisioner = new TopicProvisioner(admin, topicSettings);
try {
  const { brokers } = await admin.metadata({ topics: [] });
  const layout = topicLayout(topicSettings, brokers.size);
  for (const topic of tenants.flatMap(tenantTopics)) {
    const outcome = await provisioner.create(topic);
    console.log(
      outcome === "created"
        ? `${topic}: created (${layout.partitions} partitions, ${layout.replicas} replicas, min.insync.replicas ${layout.minInsyncReplicas})`
        : `${topic}: already exists (left as it is)`,
    );
  }
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await admin.close();
}
