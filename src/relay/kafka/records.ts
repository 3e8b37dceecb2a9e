/** One Kafka record the relay writes: the event JSON keyed by user, with its id as a header. */
export interface EventRecord {
  topic: string;
  key: string;
  value: string;
  eventId: string;
}

/** Where accepted records go. Resolves once the record is durable (in Kafka or in the spool). */
export interface RecordSink {
  write(records: readonly EventRecord[]): Promise<void>;
  readonly kafkaAvailable: boolean;
  /** False when neither Kafka nor the spool can take more: the relay is not ready. */
  readonly accepting: boolean;
  close(): Promise<void>;
}

/** The sink is full (buffer and spool): the caller answers with a retryable 503. */
export class SinkUnavailableError extends Error {}
