/**
 * Stores an experiment's result in the SQLite log (tables experiments, crash_states, violations;
 * see docs/sqlite-schema.md), in one transaction.
 */
import type { EventDb, SqlStatement } from "../ingest/event_db.js";
import type { ExperimentResult, ExperimentSpec, PointResult } from "./engine.js";

export async function storeExperiment(
  db: EventDb,
  id: string,
  spec: ExperimentSpec,
  result: ExperimentResult,
  points: readonly PointResult[],
  startedAt: string,
): Promise<void> {
  const { workload, ...options } = spec;
  const statements: SqlStatement[] = [
    {
      sql: "INSERT INTO experiments (id, started_at, workload_json, options_json, crash_points, states, distinct_images, violations, elapsed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      params: [
        id,
        startedAt,
        JSON.stringify(workload),
        JSON.stringify(options),
        result.crashPoints,
        result.states,
        result.distinctImages,
        Object.values(result.violationsByOracle).reduce((a, b) => a + b, 0),
        result.elapsedMs,
      ],
    },
  ];
  for (const p of points) {
    statements.push({
      sql: "INSERT INTO crash_states (experiment_id, crash_seq, states, distinct_images, violations) VALUES (?, ?, ?, ?, ?)",
      params: [id, p.crashSeq, p.states, p.keys.length, p.violations.length],
    });
  }
  for (const v of result.violations) {
    statements.push({
      sql: "INSERT INTO violations (experiment_id, state_id, crash_seq, state_index, oracle, message, chosen_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
      params: [
        id,
        v.id,
        v.crashSeq,
        v.stateIndex,
        v.oracle,
        v.message,
        JSON.stringify({ fallback: v.fallback, chosen: v.chosen }),
      ],
    });
  }
  await db.transaction(statements);
}
