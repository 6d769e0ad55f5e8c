// How load is spread across priority levels, as Envoy's LoadBalancerBase computes it
// (recalculatePerPriorityState, recalculatePerPriorityPanic, recalculateLoadInTotalPanic).
//
// A level's availability is its healthy share times the overprovisioning factor (140 %), capped
// at 100: a level with 72 % healthy hosts still counts as fully available. Load goes to the
// levels in order until 100 % is placed; what healthy hosts cannot take goes to degraded hosts.
// A level whose healthy + degraded share is below the panic threshold is "in panic" and balances
// over all its hosts, healthy or not; when every level is in panic, load follows host counts.

/** Host counts of one priority level. */
export interface LevelCounts {
  readonly total: number;
  readonly healthy: number;
  readonly degraded: number;
}

/** Per-level load percentages (summing to 100) and panic flags. */
export interface PriorityLoad {
  readonly healthy: number[];
  readonly degraded: number[];
  readonly panic: boolean[];
}

function distribute(
  load: number[],
  availability: readonly number[],
  total: number,
  normalized: number,
): [number, number] {
  let first = -1;
  let remaining = total;
  for (let i = 0; i < availability.length; i++) {
    const a = availability[i] as number;
    if (first < 0 && a > 0) first = i;
    const share = Math.min(remaining, Math.floor((a * 100) / normalized));
    load[i] = share;
    remaining -= share;
  }
  return [first, remaining];
}

/** Computes the load and panic state of every level, exactly as Envoy does, with integer percentages. */
export function computePriorityLoad(
  levels: readonly LevelCounts[],
  overprovisioningFactor: number,
  panicThreshold: number,
): PriorityLoad {
  const n = Math.max(1, levels.length);
  const healthyLoad = new Array<number>(n).fill(0);
  const degradedLoad = new Array<number>(n).fill(0);
  const panic = new Array<boolean>(n).fill(false);
  const health = new Array<number>(n).fill(0);
  const degradedAvailability = new Array<number>(n).fill(0);

  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as LevelCounts;
    if (level.total === 0) continue;
    health[i] = Math.min(100, Math.floor((overprovisioningFactor * level.healthy) / level.total));
    degradedAvailability[i] = Math.min(
      100,
      Math.floor((overprovisioningFactor * level.degraded) / level.total),
    );
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (health[i] as number) + (degradedAvailability[i] as number);
  const normalized = Math.min(100, sum);

  if (normalized > 0) {
    const [firstHealthy, remainingHealthy] = distribute(healthyLoad, health, 100, normalized);
    const [firstDegraded, remaining] = distribute(
      degradedLoad,
      degradedAvailability,
      remainingHealthy,
      normalized,
    );
    // Rounding leftovers go to the first available level.
    if (remaining !== 0) {
      if (firstHealthy !== -1) healthyLoad[firstHealthy] = (healthyLoad[firstHealthy] as number) + remaining;
      else degradedLoad[firstDegraded] = (degradedLoad[firstDegraded] as number) + remaining;
    }
  }

  if (panicThreshold === 0 && normalized === 0) {
    // Panic disabled and nothing available: all load to P0, where no host will be found.
    healthyLoad.fill(0);
    degradedLoad.fill(0);
    healthyLoad[0] = 100;
    return { healthy: healthyLoad, degraded: degradedLoad, panic };
  }

  let totalPanic = true;
  for (let i = 0; i < n; i++) {
    const level = levels[i];
    let inPanic = false;
    if (normalized !== 100) {
      const available = level && level.total > 0 ? (100 * (level.healthy + level.degraded)) / level.total : 0;
      inPanic = available < panicThreshold;
    }
    panic[i] = inPanic;
    totalPanic &&= inPanic;
  }

  if (totalPanic) {
    // Every level in panic: spread by host counts, regardless of health.
    let hosts = 0;
    for (const level of levels) hosts += level.total;
    healthyLoad.fill(0);
    degradedLoad.fill(0);
    if (hosts === 0) {
      healthyLoad[0] = 100;
    } else {
      let remaining = 100;
      let firstNonEmpty = -1;
      for (let i = 0; i < levels.length; i++) {
        const total = (levels[i] as LevelCounts).total;
        if (firstNonEmpty < 0 && total > 0) firstNonEmpty = i;
        const share = Math.floor((100 * total) / hosts);
        healthyLoad[i] = share;
        remaining -= share;
      }
      healthyLoad[firstNonEmpty] = (healthyLoad[firstNonEmpty] as number) + remaining;
    }
  }
  return { healthy: healthyLoad, degraded: degradedLoad, panic };
}

/** Which level a value in [1, 100] lands in, and whether it targets its degraded hosts. */
export function choosePriority(point: number, load: PriorityLoad): number {
  // Encoded as level * 2 + (degraded ? 1 : 0), to return one number without allocating.
  let aggregate = 0;
  const healthy = load.healthy;
  for (let i = 0; i < healthy.length; i++) {
    aggregate += healthy[i] as number;
    if (point <= aggregate) return i * 2;
  }
  const degraded = load.degraded;
  for (let i = 0; i < degraded.length; i++) {
    aggregate += degraded[i] as number;
    if (point <= aggregate) return i * 2 + 1;
  }
  return 0;
}
