/** The label every value beyond a bound is counted under. */
export const OTHER = "other";

/**
 * At most `max` distinct values of a label per owner (a tenant, or "" for the tenants themselves), the
 * first ones seen; later ones are counted as {@link OTHER}. A careless or hostile client can then grow
 * neither Prometheus series nor stored aggregates without bound, whatever scenarios or fields it sends.
 */
export class BoundedLabels {
  readonly #max: number;
  readonly #seen = new Map<string, Set<string>>();

  constructor(max: number) {
    this.#max = max;
  }

  label(owner: string, value: string): string {
    let values = this.#seen.get(owner);
    if (values === undefined) {
      values = new Set();
      this.#seen.set(owner, values);
    }
    if (values.has(value)) return value;
    if (values.size >= this.#max) return OTHER;
    values.add(value);
    return value;
  }
}
