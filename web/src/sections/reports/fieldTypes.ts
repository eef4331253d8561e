// Silent seats (issue #20): the reports service's shapes, written by hand from the API contract
// until they are in the gateway's OpenAPI document (then `Schema<"reports__SilentSeatOut">`).

/** A licensed terminal that has not reported for `silent_days` (null: never seen; listed first). */
export interface SilentSeat {
  partner_id: string;
  instance_id: string;
  instance_name: string | null;
  license_id: string;
  user: string | null;
  serial: string | null;
  last_seen_at: string | null;
  silent_days: number | null;
}

/** GET /reports/silent-seats?partner_id=&instance_id=&days=N (exports: /reports/silent-seats/export.csv|xlsx) */
export interface SilentSeatPage {
  items: SilentSeat[];
  next_cursor: string | null;
  days: number;
}
