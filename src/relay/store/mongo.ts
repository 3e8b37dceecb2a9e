import { type Db, MongoClient } from "mongodb";

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
