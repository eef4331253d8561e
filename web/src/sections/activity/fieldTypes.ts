// Field operations (issue #20): the activity service's shapes for positions, the working-time record
// and the remote-action trail: aliases of the generated schemas (../../api/types), like model.ts.
import type { Schema } from "../../api/types";
import type { ActivityRecord, Terminal } from "./model";

/** One GPS fix of a terminal (GET /activity/terminals/{serial}/positions), in time order. */
export type Position = Schema<"activity__PositionOut">;

export type PositionPage = Schema<"activity__PositionPage">;

/** GET /activity/terminals/{serial} with the last known position. */
export type TerminalWithPosition = Terminal;

/** A record with the late-sync flag (received_at − occurred_at beyond the service's threshold). */
export type LateRecord = ActivityRecord;

export type Pause = Schema<"activity__PauseIO">;

export const WORK_FLAGS = [
  "unmatched_clock_in",
  "unmatched_clock_out",
  "overlapping_breaks",
  "crosses_midnight",
  "late_sync",
  "clock_skew",
] as const;

/** One day of a worker's record (a version of it: 1 is as the terminal reported). */
export type WorkDay = Schema<"activity__WorkDayOut">;

/** GET /activity/working-time?instance_id=&pin=&month= */
export type WorkMonth = Schema<"activity__WorkingMonthOut">;

/** GET /activity/working-time/days?instance_id=&pin=&date= : the current version and every version, oldest first. */
export type WorkDayDetail = Schema<"activity__WorkDayWithVersions">;

/** POST /activity/working-time/corrections */
export type CorrectionIn = Schema<"activity__CorrectionIn">;

export type RemoteActionKind = Schema<"activity__ActionKind">;
export type RemoteActionState = Schema<"activity__ActionState">;

/** A remote action and how far it got (GET /activity/terminals/{serial}/actions, /activity/actions). */
export type RemoteAction = Schema<"activity__RemoteActionOut">;

export type RemoteActionPage = Schema<"activity__RemoteActionPage">;
