// Field operations (issue #20): the activity service's shapes for positions, the working-time record
// and the remote-action trail, written by hand from the API contract until they are in the gateway's
// OpenAPI document (then: `Schema<"activity__PositionOut">` etc. from ../../api/types, like model.ts).
import type { ActivityRecord, Terminal } from "./model";

/** One GPS fix of a terminal (GET /activity/terminals/{serial}/positions), in time order. */
export interface Position {
  record_id: string;
  occurred_at: string;
  received_at: string;
  lat: number;
  lon: number;
  accuracy_m: number | null;
  action: string;
  /** Seconds since the previous point when that exceeds the page's `gap_threshold_s`; else null (or absent). */
  gap_before_s?: number | null;
}

export interface PositionPage {
  items: Position[];
  next_cursor: string | null;
  gap_threshold_s: number;
}

/** GET /activity/terminals/{serial} with the last known position. */
export type TerminalWithPosition = Terminal & { last_position?: Position | null };

/** A record with the late-sync flag (received_at − occurred_at beyond the service's threshold). */
export type LateRecord = ActivityRecord & { late?: boolean };

export interface Pause {
  start: string;
  end: string | null;
}

export const WORK_FLAGS = [
  "unmatched_clock_in",
  "unmatched_clock_out",
  "overlapping_breaks",
  "crosses_midnight",
  "late_sync",
  "clock_skew",
] as const;

/** One day of a worker's record (a version of it: 1 is as the terminal reported). */
export interface WorkDay {
  date: string;
  start: string | null;
  end: string | null;
  pauses: Pause[];
  worked_s: number;
  flags: string[];
  version: number;
  corrected_by: string | null;
  corrected_at: string | null;
  reason: string | null;
  source_record_ids: string[];
}

/** GET /activity/working-time?instance_id=&pin=&month= */
export interface WorkMonth {
  instance_id: string;
  pin: string;
  user: string | null;
  month: string;
  days: WorkDay[];
  total_worked_s: number;
  rules_version: string;
}

/** GET /activity/working-time/days?instance_id=&pin=&date= : the current version and every version, oldest first. */
export type WorkDayDetail = WorkDay & { versions: WorkDay[] };

/** POST /activity/working-time/corrections */
export interface CorrectionIn {
  instance_id: string;
  pin: string;
  date: string;
  start: string;
  end: string | null;
  pauses: { start: string; end: string }[];
  reason: string;
  /** The time zone the date is a day of (the service's default: Europe/Madrid). */
  tz?: string | null;
}

export type RemoteActionKind = "session_clear" | "license_release" | "impersonation";
export type RemoteActionState = "requested" | "delivered" | "applied";

/** A remote action and how far it got (GET /activity/terminals/{serial}/actions, /activity/actions). */
export interface RemoteAction {
  id: string;
  kind: RemoteActionKind;
  instance_id: string;
  serial: string | null;
  license_id: string | null;
  requested_at: string;
  requested_by: string | null;
  delivered_at: string | null;
  applied_at: string | null;
  state: RemoteActionState;
  overdue: boolean;
}

export interface RemoteActionPage {
  items: RemoteAction[];
  next_cursor?: string | null;
}
