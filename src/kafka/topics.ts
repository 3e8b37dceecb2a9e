import type { Admin } from "@platformatic/kafka";
import { quarantineTopicFor, topicFor } from "../core/index.ts";

export interface TopicSettings {
  partitions: number;
  /** Replicas of each partition; when absent, min(3, brokers in the cluster). */
  replicationFactor?: number;
  /** `min.insync.replicas`; when absent, 2 with three replicas or more (acks=all then survives a broker loss), else 1. */
  minInsyncReplicas?: number;
  retentionMs: number;
  /** Whether a writer creates a topic the first time it writes to it; without, an operator provisions them. */
  autoCreate: boolean;
}

/** The settings a topic gets in a cluster of `brokers` brokers. */
export const topicLayout = (settings: TopicSettings, brokers: number) => {
  const replicas = settings.replicationFactor ?? Math.min(3, Math.max(1, brokers));
  return {
    partitions: settings.partitions,
    replicas,
    minInsyncReplicas: settings.minInsyncReplicas ?? (replicas >= 3 ? 2 : 1),
  };
};

/** A tenant's two topics: its events and its quarantine. */
export const tenantTopics = (tenantId: string) => [topicFor(tenantId), quarantineTopicFor(tenantId)];

/** Topics named at once are created with one request each this many. */
const TOPICS_PER_REQUEST = 500;

/**
 * How long a creation waits for Kafka to give the new partitions a leader. Kafka answers CreateTopics
 * before the leader has made the partitions (about 100 a second on a small broker); a produce request
 * naming one that is not made yet fails whole, after retrying, for every topic in it.
 */
const LEADERS_WITHIN_MS = 30_000;
const LEADERS_POLL_MS = 200;

interface Creation {
  topic: string;
  resolve: (outcome: "created" | "existing") => void;
  reject: (error: unknown) => void;
}

/**
 * Creates topics with the tenant-topic settings (partitions, replicas, min.insync.replicas, retention),
 * remembering those it has seen. A writer calls `ensure` before its first write to a topic: with
 * `autoCreate` it creates the topic; without, it only looks the topic up, and a missing topic is a
 * topic-level failure of that topic's writes (they wait in its spool) until an operator runs
 * `npm run topics -- ensure <tenant>`. Either way `ensure` says whether the topic is known to be there,
 * so that a writer sends a topic it cannot vouch for on its own.
 *
 * Topics asked for in the same turn of the event loop are created (or looked up) together, 500 a
 * request: 10,000 new tenants in one minute made 20,000 admin requests one by one (a metadata request
 * and a CreateTopics each), and their first records waited for them.
 */
export class TopicProvisioner {
  readonly #known = new Map<string, Promise<"created" | "existing">>();
  #asked: Creation[] = [];
  /** Topics found by a lookup (auto-creation off); a missing one is looked up again next time. */
  readonly #found = new Set<string>();
  #lookups: { topic: string; resolve: (found: boolean) => void }[] = [];

  readonly admin: Admin;
  readonly settings: TopicSettings;

  constructor(admin: Admin, settings: TopicSettings) {
    this.admin = admin;
    this.settings = settings;
  }

  /**
   * Before a write: creates the topic when auto-creation is on, else looks it up; whether it is known
   * to be there. Never fails: whatever stops the creation (a user that may not create topics, an
   * unreachable cluster), the produce request that follows says whether the topic can be written.
   */
  async ensure(topic: string): Promise<boolean> {
    if (this.settings.autoCreate)
      return this.create(topic).then(
        () => true,
        () => false,
      );
    if (this.#found.has(topic)) return true;
    return new Promise((resolve) => {
      this.#lookups.push({ topic, resolve });
      if (this.#lookups.length === 1) setImmediate(() => void this.#lookUpAsked());
    });
  }

  async #lookUpAsked(): Promise<void> {
    const lookups = this.#lookups;
    this.#lookups = [];
    for (let i = 0; i < lookups.length; i += TOPICS_PER_REQUEST) {
      const some = lookups.slice(i, i + TOPICS_PER_REQUEST);
      // Not retried: a topic not found now is sent on its own, which decides.
      const exists = (topics: string[]) =>
        this.admin.metadata({ topics, forceUpdate: true, retries: 0 }).then(
          () => true,
          () => false,
        );
      // One missing topic fails the whole lookup: then each is looked up on its own.
      const all = await exists(some.map((lookup) => lookup.topic));
      await Promise.all(
        some.map(async ({ topic, resolve }) => {
          const found = all || (await exists([topic]));
          if (found) this.#found.add(topic);
          resolve(found);
        }),
      );
    }
  }

  /** Creates a topic unless it exists; a failure is not remembered, so the next call tries again. */
  create(topic: string): Promise<"created" | "existing"> {
    let ready = this.#known.get(topic);
    if (ready === undefined) {
      ready = new Promise((resolve, reject) => {
        this.#asked.push({ topic, resolve, reject });
        if (this.#asked.length === 1) setImmediate(() => void this.#createAsked());
      });
      this.#known.set(topic, ready);
      ready.catch(() => this.#known.delete(topic));
    }
    return ready;
  }

  async #createAsked(): Promise<void> {
    const asked = this.#asked;
    this.#asked = [];
    for (let i = 0; i < asked.length; i += TOPICS_PER_REQUEST)
      await this.#createSome(asked.slice(i, i + TOPICS_PER_REQUEST));
  }

  async #createSome(creations: readonly Creation[]): Promise<void> {
    try {
      const { brokers } = await this.admin.metadata({ topics: [] });
      const layout = topicLayout(this.settings, brokers.size);
      await this.admin.createTopics({
        topics: creations.map((creation) => creation.topic),
        partitions: layout.partitions,
        replicas: layout.replicas,
        configs: [
          { name: "retention.ms", value: String(this.settings.retentionMs) },
          { name: "min.insync.replicas", value: String(layout.minInsyncReplicas) },
        ],
      });
      await this.#resolveWhenLed(creations);
    } catch (error) {
      // Kafka answers per topic: some may be made, some exist already, some refused.
      const answers = topicAnswers(error);
      const made: Creation[] = [];
      for (const creation of creations) {
        const code = answers?.get(creation.topic);
        if (code === 0) made.push(creation);
        else if (code === TOPIC_ALREADY_EXISTS) creation.resolve("existing");
        else creation.reject(error);
      }
      await this.#resolveWhenLed(made);
    }
  }

  /**
   * Resolves each new topic's creation once every partition of it has a leader, or after
   * LEADERS_WITHIN_MS all the same (its first send then decides): one slow topic holds back no other.
   */
  async #resolveWhenLed(creations: readonly Creation[]): Promise<void> {
    const deadline = Date.now() + LEADERS_WITHIN_MS;
    let waiting = creations;
    while (waiting.length > 0 && Date.now() < deadline) {
      // Topics the broker does not know yet fail the whole metadata request: all are asked again.
      const metadata = await this.admin
        .metadata({ topics: waiting.map((creation) => creation.topic), forceUpdate: true })
        .catch(() => undefined);
      if (metadata !== undefined)
        waiting = waiting.filter((creation) => {
          const partitions = metadata.topics.get(creation.topic)?.partitions;
          const led = partitions?.every((partition) => partition.leader >= 0) === true;
          if (led) creation.resolve("created");
          return !led;
        });
      if (waiting.length > 0) await new Promise((resolve) => setTimeout(resolve, LEADERS_POLL_MS));
    }
    for (const creation of waiting) creation.resolve("created");
  }
}

const TOPIC_ALREADY_EXISTS = 36;

/**
 * The error code of each topic in a CreateTopics answer that reported errors (the client throws it,
 * wrapped in aggregates); undefined when no answer came (a network failure, a timeout).
 */
const topicAnswers = (error: unknown): Map<string, number> | undefined => {
  const topics = (error as { response?: { topics?: { name: string; errorCode: number }[] } })?.response
    ?.topics;
  if (Array.isArray(topics)) return new Map(topics.map((topic) => [topic.name, topic.errorCode]));
  for (const inner of (error as { errors?: unknown[] })?.errors ?? []) {
    const found = topicAnswers(inner);
    if (found !== undefined) return found;
  }
  return undefined;
};
