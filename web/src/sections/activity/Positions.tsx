// Issue #20, the map: a terminal's last known position and its track for a chosen day, on an
// interactive map and as a table of its points (the same data for those who cannot use the map).
import { lazy, Suspense, useEffect, useId } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";

import { api } from "../../api/client";
import { usePagedQuery } from "../../api/queries";
import { Empty, ErrorState, Loading, ScrollBox } from "../../components/states";
import { useAppConfig } from "../../config";
import type { Position, PositionPage } from "./fieldTypes";
import { actionLabel, formatClock, formatDuration, formatTime, localDay, timeZone } from "./model";

const TrackMap = lazy(() => import("./TrackMap"));
/** Points of one day read at most (pages of the API's maximum size are read one after the other). */
const MAX_POINTS = 5000;
const PAGE = 200;

export function Positions({ serial, last }: { serial: string; last: Position | null }) {
  const { t, i18n } = useTranslation("activity");
  const [params, setParams] = useSearchParams();
  const date = params.get("date") || localDay();
  const tz = timeZone();
  const config = useAppConfig();
  const dateId = useId();
  const path = `/activity/terminals/${encodeURIComponent(serial)}/positions`;
  const positions = usePagedQuery([path, { date, tz }], (cursor, signal) =>
    api<PositionPage>(path, { query: { date, tz, limit: PAGE, cursor }, signal }),
  );
  const { items, hasMore, loading, error, loadMore } = positions;
  // The whole day's track: the next pages follow on their own, up to a bound.
  useEffect(() => {
    if (hasMore && !loading && !error && items.length < MAX_POINTS) loadMore();
  }, [hasMore, loading, error, items.length, loadMore]);
  const threshold = positions.pages[0]?.gap_threshold_s ?? null;
  const gaps = items.filter((point) => point.gap_before_s != null).length;

  function choose(value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set("date", value);
    else next.delete("date");
    setParams(next, { replace: true });
  }

  return (
    <section className="card" aria-labelledby="terminal-map-title">
      <h2 id="terminal-map-title">{t("map.title")}</h2>
      <p className="muted">
        {last
          ? t("map.lastKnown", {
              time: formatTime(last.occurred_at, i18n.language),
              lat: last.lat.toFixed(5),
              lon: last.lon.toFixed(5),
            })
          : t("map.noLast")}
        {last?.accuracy_m != null && ` (${t("record.accuracy", { meters: Math.round(last.accuracy_m) })})`}
      </p>
      <div className="toolbar">
        <label className="inline" htmlFor={dateId}>
          {t("map.day")}
        </label>
        <input id={dateId} type="date" value={date} max={localDay()} onChange={(event) => choose(event.target.value)} />
      </div>
      {error !== undefined && items.length === 0 ? (
        <ErrorState error={error} onRetry={positions.reload} />
      ) : loading && items.length === 0 ? (
        <Loading />
      ) : (
        <>
          <p className="muted" role="status" data-testid="track-summary">
            {items.length === 0
              ? t("map.noPoints")
              : t("map.summary", { count: items.length, gaps, from: formatClock(items[0]!.occurred_at, i18n.language), to: formatClock(items.at(-1)!.occurred_at, i18n.language) })}
            {threshold !== null && gaps > 0 && ` ${t("map.gapRule", { duration: formatDuration(threshold) })}`}
          </p>
          {config ? (
            <Suspense fallback={<Loading />}>
              <TrackMap points={items} last={last} settings={config.map} label={t("map.label", { serial, date })} />
            </Suspense>
          ) : (
            <Loading />
          )}
          {items.length > 0 ? <PointTable points={items} /> : <Empty>{t("map.noPointsHint")}</Empty>}
          {loading && <Loading />}
          {error !== undefined && <ErrorState error={error} onRetry={loadMore} />}
          {hasMore && items.length >= MAX_POINTS && <p className="muted">{t("map.truncated", { count: items.length })}</p>}
        </>
      )}
    </section>
  );
}

/** Every point of the track in time order: device and server time, place, accuracy, gap before it. */
function PointTable({ points }: { points: Position[] }) {
  const { t, i18n } = useTranslation("activity");
  return (
    <details className="track-points" open={points.length <= 200}>
      <summary>{t("map.points", { count: points.length })}</summary>
      <ScrollBox label={t("map.pointsTable")}>
        <table aria-label={t("map.pointsTable")}>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">{t("map.deviceTime")}</th>
              <th scope="col">{t("map.serverTime")}</th>
              <th scope="col">{t("map.place")}</th>
              <th scope="col">{t("map.accuracy")}</th>
              <th scope="col">{t("record.action")}</th>
            </tr>
          </thead>
          <tbody>
            {points.map((point, index) => (
              <tr key={point.record_id} className={point.gap_before_s != null ? "gap-before" : undefined}>
                <td>{index + 1}</td>
                <td>
                  <time dateTime={point.occurred_at}>{formatClock(point.occurred_at, i18n.language)}</time>
                  {point.gap_before_s != null && (
                    <span className="badge gap-badge">{t("map.gapBadge", { duration: formatDuration(point.gap_before_s) })}</span>
                  )}
                </td>
                <td>
                  <time dateTime={point.received_at}>{formatClock(point.received_at, i18n.language)}</time>
                </td>
                <td>
                  {point.lat.toFixed(5)}, {point.lon.toFixed(5)}
                </td>
                <td>{point.accuracy_m === null ? "—" : `±${Math.round(point.accuracy_m)} m`}</td>
                <td>{actionLabel(t, point.action)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollBox>
    </details>
  );
}
