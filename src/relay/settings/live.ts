import * as z from "zod";
import { intSetting as int } from "../../core/index.ts";

/** Live views of a tenant's topic (`…/events/live`): how many at once, in all and per tenant, and how fast. */
export const LiveSettings = z.object({
  /** Live views (`…/events/live`) served at once, each a Kafka consumer of its own. */
  LIVE_STREAMS_MAX: int(8),
  /** Live views one tenant may have open at once, inside LIVE_STREAMS_MAX: one tenant cannot take them all. */
  LIVE_STREAMS_PER_TENANT: int(2, 1),
  /** Events a live view sends a second at most; the rest are counted and said (a `skipped` event). */
  LIVE_EVENTS_PER_SECOND: int(50, 1),
});
