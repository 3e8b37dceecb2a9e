import { type Db, MongoClient, MongoError } from "mongodb";
import { ApiError } from "../../core/index.ts";

/**
 * The relay's MongoDB client, renewed when its topology closes. When the first connection attempt
 * fails (MongoDB down while the relay starts), the driver closes the client's topology and every later
 * operation fails with "Topology is closed", even once MongoDB is back; a fresh client is made then.
 */
export class MongoConnection {
  readonly #uri: string;
  readonly #database: string;
  #client: MongoClient;
  #closing = false;

  constructor(uri: string, database: string) {
    this.#uri = uri;
    this.#database = database;
    this.#client = this.#connect();
  }

  #connect(): MongoClient {
    const client = new MongoClient(this.#uri, { serverSelectionTimeoutMS: 3000 });
    client.once("topologyClosed", () => {
      if (!this.#closing && this.#client === client) this.#client = this.#connect();
    });
    return client;
  }

  db(): Db {
    return this.#client.db(this.#database);
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#client.close();
  }
}

/**
 * Runs a repository operation; a MongoDB failure it did not handle itself (the server unreachable,
 * a timeout) becomes a retryable `store_unavailable`, so callers see our error code, not the driver's.
 */
export const storeCall = async <T>(operation: () => Promise<T>): Promise<T> => {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof MongoError) {
      const unavailable = new ApiError(
        "store_unavailable",
        "the configuration store is not reachable; retry",
      );
      unavailable.cause = error;
      throw unavailable;
    }
    throw error;
  }
};
