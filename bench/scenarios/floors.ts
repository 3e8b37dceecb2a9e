// The floors: the same generators at the same rates against bare grpc-js, bare connect-node, bare Hono
// on node-server and in workerd (also handing each call on with one fetch, as the edge does), and the
// raw producer writing the same records with the relay's settings, in requests of 1,000 and one a time.
import { createServer } from "node:http";
import { type CpuPhase, producerFloor, startFloor, startWorkerdFloor } from "../efficiency.ts";
import { createTopic } from "../kafka-ceiling.ts";
import {
  BATCH_CALLS,
  BATCH_SECONDS,
  BROKERS,
  beacon,
  grpcBatched,
  grpcSingle,
  jsonHeaders,
  pin,
  pinned,
  post,
  SINGLE_RATE,
  SINGLE_SECONDS,
  say,
  single,
  tenant,
  warmed,
} from "./context.ts";

export const floorsScenario = async () => {
  say(`floors: bare grpc-js, bare connect-node, bare Hono (node-server, workerd), raw producer`);
  const phases: Record<string, CpuPhase> = {};
  const port = 18600;
  for (const kind of ["grpc-js", "connect"] as const) {
    const floor = await startFloor(kind, port, pinned);
    try {
      const name = kind.replace("-", "_");
      const target = `127.0.0.1:${port}`;
      phases[`floor_${name}_single`] = await warmed({ floor: floor.pid() }, 1, () =>
        grpcSingle(target, SINGLE_RATE, SINGLE_RATE * SINGLE_SECONDS),
      );
      phases[`floor_${name}_batched`] = await warmed({ floor: floor.pid() }, 100, () =>
        grpcBatched(target, 0, BATCH_CALLS),
      );
    } finally {
      await floor.stop();
    }
  }
  const hono = await startFloor("hono-node", port, pinned);
  try {
    const url = `http://127.0.0.1:${port}/track`;
    phases.floor_hono_node_single = await warmed({ floor: hono.pid() }, 1, () =>
      post(url, single, jsonHeaders, SINGLE_RATE, SINGLE_SECONDS),
    );
    phases.floor_hono_node_batched = await warmed({ floor: hono.pid() }, 100, () =>
      post(url, beacon, jsonHeaders, 0, BATCH_SECONDS),
    );
  } finally {
    await hono.stop();
  }
  // The upstream of the forwarding floor answers at once: its CPU is not workerd's.
  const upstream = createServer((_req, res) =>
    res.writeHead(200, { "content-type": "application/json" }).end('{"succeeded":1}'),
  );
  await new Promise<void>((resolve) => upstream.listen(port + 1, "127.0.0.1", resolve));
  const workerd = await startWorkerdFloor(port, `http://127.0.0.1:${port + 1}/`);
  try {
    const workerdPid = workerd.pid();
    await pin(workerdPid);
    phases.floor_hono_workerd_single = await warmed({ floor: workerdPid }, 1, () =>
      post(`http://127.0.0.1:${port}/track`, single, jsonHeaders, SINGLE_RATE, SINGLE_SECONDS),
    );
    phases.floor_hono_workerd_fetch_single = await warmed({ floor: workerdPid }, 1, () =>
      post(`http://127.0.0.1:${port}/forward`, single, jsonHeaders, SINGLE_RATE, SINGLE_SECONDS),
    );
  } finally {
    await workerd.stop();
    upstream.close();
  }
  const topic = `user-behaviors-${tenant}_producer_floor`;
  await createTopic(BROKERS, topic);
  return {
    phases,
    producer_floor: await producerFloor(BROKERS, topic, 150_000, pinned),
    producer_floor_single: await producerFloor(
      BROKERS,
      topic,
      SINGLE_RATE * SINGLE_SECONDS,
      pinned,
      SINGLE_RATE,
    ),
  };
};
