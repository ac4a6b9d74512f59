/**
 * The measuring loop of the runners (run.mjs, reliable-udp.mjs): every round measures each case's
 * systems, the order rotated each round so that no system always runs first (or last) after
 * another, and logs one progress line per measurement. A measurement that throws is kept as a
 * failure, with the first line of its error.
 */
export async function runRounds({ plan, rounds, measure, describe, log }) {
  const total = plan.reduce((sum, entry) => sum + entry.systems.length, 0) * rounds;
  if (total === 0) {
    log('nothing to measure: no selected system takes any selected case');
    process.exit(2);
  }
  const measurements = [];
  let done = 0;
  for (let round = 1; round <= rounds; round++) {
    for (const { benchCase, systems: names } of plan) {
      const shift = (round - 1) % names.length;
      const order = [...names.slice(shift), ...names.slice(0, shift)];
      for (const system of order) {
        const began = Date.now();
        const entry = { round, case: benchCase.name, system };
        try {
          entry.result = await measure(system, benchCase, round);
          entry.ok = true;
        } catch (error) {
          entry.ok = false;
          entry.error = String(error?.message ?? error).split('\n')[0];
        }
        measurements.push(entry);
        done++;
        const shown = entry.ok ? describe(benchCase, entry.result) : `FAILED: ${entry.error}`;
        log(`[${done}/${total}] round ${round} ${benchCase.name} ${system}: ${shown} (${((Date.now() - began) / 1000).toFixed(1)} s)`);
      }
    }
  }
  return measurements;
}
