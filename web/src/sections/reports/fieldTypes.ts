// Silent seats (issue #20): the reports service's shapes, aliases of the generated schemas.
import type { Schema } from "../../api/types";

/** A licensed terminal that has not reported for `silent_days` (null: never seen; listed first). */
export type SilentSeat = Schema<"reports__SilentSeatOut">;

/** GET /reports/silent-seats?partner_id=&instance_id=&days=N (exports: /reports/silent-seats/export.csv|xlsx) */
export type SilentSeatPage = Schema<"reports__SilentSeatPage">;
