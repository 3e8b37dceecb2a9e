import { Agent, request } from "node:http";
import { createConnection, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadSettings } from "../../src/relay/config.ts";
import { DEFAULT_KEEP_ALIVE_TIMEOUT_MS } from "../../src/relay/settings/server.ts";
import { startTestRelay } from "../support/relay.ts";

const brokers = inject("kafkaBrokers");

/** The idle timeout of common load balancers (AWS's ALB, nginx's upstream keep-alive): the relay's must be longer. */
const BALANCER_IDLE_TIMEOUT_MS = 60_000;

/** One GET over `agent`; its status, Keep-Alive header, socket, and whether the socket was reused. */
const get = (url: string, agent: Agent) =>
  new Promise<{ status: number; keepAlive: string | undefined; socket: Socket; reused: boolean }>(
    (resolve, reject) => {
      const req = request(url, { agent }, (res) => {
        res.resume();
        res.once("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            keepAlive: [res.headers["keep-alive"] ?? []].flat().join(", ") || undefined,
            socket: req.socket as Socket,
            reused: req.reusedSocket,
          }),
        );
      });
      req.once("error", reject);
      req.end();
    },
  );

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("relay HTTP timeouts for running behind a load balancer", () => {
  let defaults: Awaited<ReturnType<typeof startTestRelay>>;
  /** Small timeouts, to see each setting applied by a real relay in a few seconds. */
  let short: Awaited<ReturnType<typeof startTestRelay>>;
  const agents: Agent[] = [];
  /** A keep-alive agent with one connection, so that every request after the first reuses it or says it could not. */
  const agent = () => {
    const created = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(created);
    return created;
  };

  beforeAll(async () => {
    [defaults, short] = await Promise.all([
      startTestRelay(brokers, []),
      startTestRelay(brokers, [], {
        env: { RELAY_KEEP_ALIVE_TIMEOUT_MS: "2000", RELAY_HEADERS_TIMEOUT_MS: "1000" },
      }),
    ]);
  });
  afterAll(async () => {
    for (const created of agents) created.destroy();
    await Promise.all([defaults?.close(), short?.close()]);
  });

  it("default to a keep-alive timeout above the balancer's idle timeout, headers within the request timeout", () => {
    const settings = loadSettings({});
    expect(settings.RELAY_KEEP_ALIVE_TIMEOUT_MS).toBe(DEFAULT_KEEP_ALIVE_TIMEOUT_MS);
    expect(settings.RELAY_KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(BALANCER_IDLE_TIMEOUT_MS);
    expect(settings.RELAY_HEADERS_TIMEOUT_MS).toBe(10_000);
    expect(settings.RELAY_REQUEST_TIMEOUT_MS).toBe(30_000);
    // A shorter request timeout brings the headers timeout down with it, unless that is set too.
    expect(loadSettings({ RELAY_REQUEST_TIMEOUT_MS: "2000" }).RELAY_HEADERS_TIMEOUT_MS).toBe(2000);
    expect(() =>
      loadSettings({ RELAY_REQUEST_TIMEOUT_MS: "5000", RELAY_HEADERS_TIMEOUT_MS: "20000" }),
    ).toThrow(/RELAY_HEADERS_TIMEOUT_MS: must be at most RELAY_REQUEST_TIMEOUT_MS \(5000\)/);
    expect(() => loadSettings({ RELAY_KEEP_ALIVE_TIMEOUT_MS: "10" })).toThrow(/RELAY_KEEP_ALIVE_TIMEOUT_MS/);
  });

  it("keeps an idle connection open for the default 65 s: announced to clients, and reused", async () => {
    const client = agent();
    const first = await get(`${defaults.httpUrl}/livez`, client);
    expect(first).toMatchObject({ status: 200, reused: false });
    // Node announces server.keepAliveTimeout in seconds; its own default would say timeout=5.
    expect(first.keepAlive).toBe(`timeout=${DEFAULT_KEEP_ALIVE_TIMEOUT_MS / 1000}`);
    const second = await get(`${defaults.httpUrl}/livez`, client);
    expect(second).toMatchObject({ status: 200, reused: true });
    expect(second.socket).toBe(first.socket);
  });

  it("closes an idle connection after RELAY_KEEP_ALIVE_TIMEOUT_MS, and idle time does not count against the headers timeout", async () => {
    const client = agent();
    const first = await get(`${short.httpUrl}/livez`, client);
    expect(first).toMatchObject({ status: 200, keepAlive: "timeout=2" });
    // One of the few fixed waits in the suite: the behaviour under test is an idle period. Longer than
    // the headers timeout (1 s) and shorter than the keep-alive timeout (2 s): the connection is still
    // there and its next request is served, not cut off with 408.
    await sleep(1300);
    const second = await get(`${short.httpUrl}/livez`, client);
    expect(second).toMatchObject({ status: 200, reused: true });
    // Then left idle, the relay closes it: after the 2 s (Node adds a second of its own,
    // keepAliveTimeoutBuffer), well before Node's default 5 s would.
    const idleFrom = Date.now();
    await new Promise((resolve) => second.socket.once("close", resolve));
    const idleMs = Date.now() - idleFrom;
    expect(idleMs).toBeGreaterThanOrEqual(1900);
    expect(idleMs).toBeLessThan(4500);
  });

  it("answers 408 to headers that do not arrive within RELAY_HEADERS_TIMEOUT_MS", async () => {
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = createConnection(Number(new URL(short.httpUrl).port), "127.0.0.1", () =>
        socket.write("GET /livez HTTP/1.1\r\nhost: relay\r\n"),
      );
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk;
      });
      // Not a wait: a bound, so that a relay that never cuts the connection fails the test (no 408).
      const bound = setTimeout(() => socket.destroy(), 15_000);
      socket.once("close", () => {
        clearTimeout(bound);
        resolve(text);
      });
      socket.once("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    // 1 s, checked every half second; the default (10 s) or the request timeout (30 s) would be later.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
