import type { Admin } from "@platformatic/kafka";

export interface TopicSettings {
  partitions: number;
  replicationFactor: number;
  retentionMs: number;
}

/**
 * Creates each tenant topic the first time the relay writes to it, with our partitions and
 * retention (the broker never auto-creates topics), and remembers the topics it has seen.
 */
export class TopicProvisioner {
  readonly #known = new Map<string, Promise<void>>();

  readonly admin: Admin;
  readonly settings: TopicSettings;

  constructor(admin: Admin, settings: TopicSettings) {
    this.admin = admin;
    this.settings = settings;
  }

  ensure(topic: string): Promise<void> {
    let ready = this.#known.get(topic);
    if (ready === undefined) {
      ready = this.#create(topic);
      this.#known.set(topic, ready);
      // A failure is not remembered: the next write tries again.
      ready.catch(() => this.#known.delete(topic));
    }
    return ready;
  }

  async #create(topic: string): Promise<void> {
    try {
      await this.admin.createTopics({
        topics: [topic],
        partitions: this.settings.partitions,
        replicas: this.settings.replicationFactor,
        configs: [{ name: "retention.ms", value: String(this.settings.retentionMs) }],
      });
    } catch (error) {
      if (!isTopicAlreadyExists(error)) throw error;
    }
  }
}

/** Kafka error 36, TOPIC_ALREADY_EXISTS, possibly wrapped in an aggregate by the client. */
const isTopicAlreadyExists = (error: unknown): boolean => {
  const text = JSON.stringify(error, Object.getOwnPropertyNames(error ?? {})) + String(error);
  return /TOPIC_ALREADY_EXISTS|already exists|"errorCode":36/i.test(text);
};
