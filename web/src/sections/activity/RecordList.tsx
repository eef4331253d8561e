import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { Empty, ErrorState, Loading } from "../../components/states";
import type { Paged } from "../../api/queries";
import { actionLabel, formatTime, type ActivityRecord } from "./model";

/** Records newest first: time, action, serial, PIN and a badge by kind; "load more" pages on. */
export function RecordList({
  records,
  empty,
  label,
  hideError,
}: {
  records: Paged<ActivityRecord>;
  empty: string;
  label: string;
  hideError?: boolean;
}) {
  const { t, i18n } = useTranslation("activity");
  const { items, loading, error, hasMore } = records;
  if (error && items.length === 0) return hideError ? null : <ErrorState error={error} onRetry={records.reload} />;
  if (loading && items.length === 0) return <Loading />;
  if (items.length === 0) return <Empty>{empty}</Empty>;
  return (
    <>
      <ul className="list activity-records" aria-label={label}>
        {items.map((record) => (
          <li key={record.id}>
            <Link to={`/activity/records/${encodeURIComponent(record.id)}`}>
              <span className="activity-row-top">
                <strong>{actionLabel(t, record.action)}</strong>
                <span className={`badge kind-${record.kind}`}>{t(`kind.${record.kind}`)}</span>
              </span>
              <span className="muted activity-row-meta">
                <time dateTime={record.occurred_at}>{formatTime(record.occurred_at, i18n.language)}</time>
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
          </li>
        ))}
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
