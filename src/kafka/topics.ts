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

/**
 * Creates topics with the tenant-topic settings (partitions, replicas, min.insync.replicas, retention),
 * remembering those it has seen. With `autoCreate`, a writer calls `ensure` before its first write to a
 * topic; without, `ensure` does nothing and a missing topic is a topic-level failure of that topic's
 * writes (they wait in its spool) until an operator runs `npm run topics -- ensure <tenant>`.
 */
export class TopicProvisioner {
  readonly #known = new Map<string, Promise<"created" | "existing">>();

  readonly admin: Admin;
  readonly settings: TopicSettings;

  constructor(admin: Admin, settings: TopicSettings) {
    this.admin = admin;
    this.settings = settings;
  }

  /**
   * Before a write: creates the topic when auto-creation is on. Best effort: whatever stops the creation
   * (a user that may not create topics, a topic an operator made meanwhile, an unreachable cluster), the
   * produce request that follows says whether the topic can be written, and its failure is classified.
   */
  async ensure(topic: string): Promise<void> {
    if (!this.settings.autoCreate) return;
    await this.create(topic).catch(() => "the produce request decides");
  }

  /** Creates a topic unless it exists; a failure is not remembered, so the next call tries again. */
  create(topic: string): Promise<"created" | "existing"> {
    let ready = this.#known.get(topic);
    if (ready === undefined) {
      ready = this.#create(topic);
      this.#known.set(topic, ready);
      ready.catch(() => this.#known.delete(topic));
    }
    return ready;
  }

  async #create(topic: string): Promise<"created" | "existing"> {
    const { brokers } = await this.admin.metadata({ topics: [] });
    const layout = topicLayout(this.settings, brokers.size);
    try {
      await this.admin.createTopics({
        topics: [topic],
        partitions: layout.partitions,
        replicas: layout.replicas,
        configs: [
          { name: "retention.ms", value: String(this.settings.retentionMs) },
          { name: "min.insync.replicas", value: String(layout.minInsyncReplicas) },
        ],
      });
      return "created";
    } catch (error) {
      if (!isTopicAlreadyExists(error)) throw error;
      return "existing";
    }
  }
}

/** Kafka error 36, TOPIC_ALREADY_EXISTS, possibly wrapped in an aggregate by the client. */
const isTopicAlreadyExists = (error: unknown): boolean => {
  const text = JSON.stringify(error, Object.getOwnPropertyNames(error ?? {})) + String(error);
  return /TOPIC_ALREADY_EXISTS|already exists|"errorCode":36/i.test(text);
};
