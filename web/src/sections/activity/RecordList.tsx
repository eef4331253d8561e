import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { Empty, ErrorState, Loading } from "../../components/states";
import type { Paged } from "../../api/queries";
import type { LateRecord, RemoteAction } from "./fieldTypes";
import { actionLabel, formatClock, formatTime, type ActivityRecord } from "./model";

type Entry = { kind: "record"; at: string; record: LateRecord } | { kind: "action"; at: string; action: RemoteAction };

/** The records and the remote actions of one timeline, newest first. While older records remain to
 * be loaded, only the actions at least as recent as the oldest loaded record are placed, so what is
 * shown is in true time order at every step of "load more". */
export function mergeTimeline(records: LateRecord[], actions: RemoteAction[], complete: boolean): Entry[] {
  const oldest = records.at(-1)?.occurred_at;
  const placed = actions.filter((action) => complete || (oldest !== undefined && action.requested_at >= oldest));
  const entries: Entry[] = [
    ...records.map((record) => ({ kind: "record" as const, at: record.occurred_at, record })),
    ...placed.map((action) => ({ kind: "action" as const, at: action.requested_at, action })),
  ];
  return entries.sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
}

/** Records newest first: time, action, serial, PIN and a badge by kind; "load more" pages on.
 * With `actions`, the remote actions of the terminal are merged into it by time. */
export function RecordList({
  records,
  empty,
  label,
  hideError,
  actions,
}: {
  records: Paged<ActivityRecord>;
  empty: string;
  label: string;
  hideError?: boolean;
  actions?: RemoteAction[];
}) {
  const { t } = useTranslation("activity");
  const { items, loading, error, hasMore } = records;
  if (error && items.length === 0) return hideError ? null : <ErrorState error={error} onRetry={records.reload} />;
  if (loading && items.length === 0) return <Loading />;
  const entries = mergeTimeline(items, actions ?? [], !hasMore);
  if (entries.length === 0) return <Empty>{empty}</Empty>;
  return (
    <>
      <ul className="list activity-records" aria-label={label}>
        {entries.map((entry) =>
          entry.kind === "record" ? (
            <li key={entry.record.id}>
              <RecordItem record={entry.record} />
            </li>
          ) : (
            <li key={`action-${entry.action.id}`} className="remote-action" data-testid="remote-action">
              <ActionItem action={entry.action} />
            </li>
          ),
        )}
      </ul>
      {error !== undefined && <ErrorState error={error} onRetry={records.loadMore} />}
      {loading && <Loading />}
      {hasMore && !loading && (
        <div className="actions activity-more">
          <button type="button" onClick={records.loadMore}>
            {t("loadMore", { ns: "common" })}
          </button>
        </div>
      )}
    </>
  );
}

function RecordItem({ record }: { record: LateRecord }) {
  const { t, i18n } = useTranslation("activity");
  return (
    <Link to={`/activity/records/${encodeURIComponent(record.id)}`}>
      <span className="activity-row-top">
        <strong>{actionLabel(t, record.action)}</strong>
        <span className="activity-badges">
          {record.late && (
            <span className="badge late" data-testid="late-badge">
              {t("late.badge")}
            </span>
          )}
          <span className={`badge kind-${record.kind}`}>{t(`kind.${record.kind}`)}</span>
        </span>
      </span>
      <span className="muted activity-row-meta">
        <time dateTime={record.occurred_at}>{formatTime(record.occurred_at, i18n.language)}</time>
        {record.late && (
          <span>
            {t("late.received")}: <time dateTime={record.received_at}>{formatTime(record.received_at, i18n.language)}</time>
          </span>
        )}
        <span>
          {t("serial")}: {record.serial}
        </span>
        {record.pin && (
          <span>
            {t("pin")}: {record.pin}
          </span>
        )}
      </span>
    </Link>
  );
}

const STEPS = ["requested", "delivered", "applied"] as const;

/** A remote action on the timeline: requested → delivered → applied, each with its time or "pending"
 * ("expired unused" instead for an impersonation whose grant expired before the panel used it). */
export function ActionItem({ action }: { action: RemoteAction }) {
  const { t, i18n } = useTranslation("activity");
  const times = { requested: action.requested_at, delivered: action.delivered_at, applied: action.applied_at };
  return (
    <div className="remote-action-body">
      <span className="activity-row-top">
        <strong>{t(`trail.kind.${action.kind}`)}</strong>
        <span className="activity-badges">
          {action.overdue && <span className="badge overdue">{t("trail.overdue")}</span>}
          {action.expired ? (
            <span className="badge expired">{t("trail.expired")}</span>
          ) : (
            <span className={`badge state-${action.state}`}>{t(`trail.state.${action.state}`)}</span>
          )}
        </span>
      </span>
      <ol className="trail-steps" aria-label={t("trail.steps")}>
        {STEPS.map((step) => {
          const time = times[step];
          return (
            <li key={step} className={time ? "done" : action.expired ? "expired" : "pending"}>
              <span className="trail-step-name">{t(`trail.state.${step}`)}</span>{" "}
              {time ? (
                <time dateTime={time} title={formatTime(time, i18n.language)}>
                  {formatClock(time, i18n.language)}
                </time>
              ) : (
                <span className="muted">{action.expired ? t("trail.expired") : t("trail.pending")}</span>
              )}
            </li>
          );
        })}
      </ol>
      <span className="muted activity-row-meta">
        <time dateTime={action.requested_at}>{formatTime(action.requested_at, i18n.language)}</time>
        {action.requested_by && <span>{t("trail.by", { who: action.requested_by })}</span>}
        {action.license_id && <span>{t("trail.license", { id: action.license_id })}</span>}
      </span>
    </div>
  );
}
