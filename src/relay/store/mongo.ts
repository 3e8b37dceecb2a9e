import { type Db, MongoClient, MongoError, MongoServerSelectionError } from "mongodb";
import { ApiError } from "../../core/index.ts";

/** How the relay talks to MongoDB: every wait bounded, the pool sized on purpose. */
export interface StoreSettings {
  uri: string;
  database: string;
  /** Connections per relay process (the driver's default is 100: a fleet of relays could exhaust the server). */
  poolSize: number;
  /**
   * The longest a store call may take before its caller is answered `store_unavailable` (the admin API,
   * lookups). Server selection and the wait for a pooled connection are bounded by it too.
   */
  deadlineMs: number;
  /** A socket silent this long is closed, which ends an operation left running past its deadline. */
  socketTimeoutMs: number;
}

/**
 * The deadline of a read of every tenant (the directory's load at start) and of a quality flush: longer
 * than a call's, since it moves much more, but still bounded.
 */
export const BULK_DEADLINE_MS = 60_000;

/** The store as the repositories see it. */
export interface Store {
  db(): Db;
  /**
   * Runs a repository operation within a deadline (the store's own by default). A MongoDB failure it did
   * not handle itself, or a missed deadline, becomes a retryable `store_unavailable`, so callers see our
   * error code, never the driver's, and never wait longer than the deadline.
   */
  call<T>(operation: () => Promise<T>, deadlineMs?: number): Promise<T>;
}

/**
 * The relay's MongoDB client, renewed when its topology closes. When the first connection attempt
 * fails (MongoDB down while the relay starts), the driver closes the client's topology and every later
 * operation fails with "Topology is closed", even once MongoDB is back; a fresh client is made then.
 */
export class MongoConnection implements Store {
  readonly #settings: StoreSettings;
  #client: MongoClient;
  #closing = false;

  constructor(settings: StoreSettings) {
    this.#settings = settings;
    this.#client = this.#connect();
  }

  #connect(): MongoClient {
    const { deadlineMs, poolSize, socketTimeoutMs } = this.#settings;
    const client = new MongoClient(this.#settings.uri, {
      maxPoolSize: poolSize,
      serverSelectionTimeoutMS: deadlineMs,
      connectTimeoutMS: deadlineMs,
      waitQueueTimeoutMS: deadlineMs,
      socketTimeoutMS: socketTimeoutMs,
    });
    client.once("topologyClosed", () => {
      if (!this.#closing && this.#client === client) this.#client = this.#connect();
    });
    return client;
  }

  db(): Db {
    return this.#client.db(this.#settings.database);
  }

  call<T>(operation: () => Promise<T>, deadlineMs = this.#settings.deadlineMs): Promise<T> {
    return withDeadline(operation(), deadlineMs, "the store").catch((error: unknown) => {
      throw error instanceof MongoError || error instanceof DeadlineMissed ? storeUnavailable(error) : error;
    });
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#client.close();
  }
}

/**
 * Whether a write that failed with `error` may still have been applied: it was sent and its answer
 * was lost (a socket timeout, a missed deadline, a connection dropped). Only a write that never left
 * (no server could be selected, no pooled connection was free) surely was not.
 */
export const mayHaveBeenApplied = (error: unknown): boolean => {
  const cause = error instanceof ApiError ? error.cause : error;
  if (cause instanceof MongoServerSelectionError) return false;
  return !(cause instanceof MongoError && cause.name === "MongoWaitQueueTimeoutError");
};

const storeUnavailable = (cause: Error): ApiError => {
  const unavailable = new ApiError("store_unavailable", "the configuration store is not reachable; retry");
  unavailable.cause = cause;
  return unavailable;
};

/** A store call (or a lookup built of them) that did not settle within its deadline. */
export class DeadlineMissed extends Error {}

/**
 * Rejects with {@link DeadlineMissed} when `promise` has not settled within `ms` (the promise itself runs
 * on, until the driver's socket timeout ends it).
 */
export const withDeadline = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineMissed(`no answer from ${what} within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
