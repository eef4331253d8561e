import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";

import { api, ApiError } from "../../api/client";
import { HelpLink } from "../../components/HelpLink";
import { apiQuery, invalidatePaths, usePagedQuery } from "../../api/queries";
import { ErrorState, Loading } from "../../components/states";
import type { RemoteActionPage, TerminalWithPosition } from "./fieldTypes";
import { actionLabel, DAY, formatTime, type RecordPage } from "./model";
import { Positions } from "./Positions";
import { Location } from "./RecordDetail";
import { RecordList } from "./RecordList";
import { ReleaseLicense } from "./Release";

const TIMELINE_DAYS = 30;
const POLL_MS = 1500;
const POLL_TRIES = 20;

/** the terminal's latest state (device, versions, battery, bound license) and its timeline. */
export function TerminalPage() {
  const { serial = "" } = useParams();
  const { t, i18n } = useTranslation("activity");
  const [releasedAt, setReleasedAt] = useState<number | null>(null);
  // License events of this terminal arrive through Kafka a moment after the action: live
  // notifications make "/activity" stale (NotificationsProvider), and after a release both reads
  // poll until the release shows.
  const [releaseShown, setReleaseShown] = useState(false);
  const polling = () =>
    releasedAt !== null && !releaseShown && Date.now() - releasedAt <= POLL_MS * POLL_TRIES ? POLL_MS : false;
  const terminal = useQuery({
    ...apiQuery<TerminalWithPosition>(`/activity/terminals/${encodeURIComponent(serial)}`),
    refetchInterval: polling,
  });
  const timeline = usePagedQuery(
    ["/activity/records", { serial, days: TIMELINE_DAYS }],
    (cursor, signal) => {
      // The window ends a little ahead of now, so a refetch shows what just happened (e.g. a release).
      const to = new Date(Date.now() + 60_000);
      const from = new Date(to.getTime() - TIMELINE_DAYS * DAY);
      return api<RecordPage>("/activity/records", {
        query: { serial, from: from.toISOString(), to: to.toISOString(), limit: 20, cursor },
        signal,
      });
    },
    { refetchInterval: polling },
  );
  // Remote actions on this terminal (clear session, release, impersonation) and how far each got,
  // merged into the timeline by time.
  const actionsPath = `/activity/terminals/${encodeURIComponent(serial)}/actions`;
  const actions = useQuery({
    ...apiQuery<RemoteActionPage>(actionsPath, { limit: 50 }),
    refetchInterval: polling,
  });
  const shown =
    releasedAt !== null &&
    terminal.data?.license_id === null &&
    timeline.items.some((item) => item.action === "license.released");
  if (shown !== releaseShown) setReleaseShown(shown);

  const info = terminal.data;
  const none = t("record.none");
  // Releasing goes through a record of the terminal that names the bound license's PIN.
  const releasable = info?.license_id
    ? timeline.items.find((item) => item.kind === "telemetry" && item.pin && (!info.pin || item.pin === info.pin))
    : undefined;

  return (
    <section className="activity-page">
      <header className="section-header">
        <h1>{t("terminal.title", { serial })}</h1>
        <HelpLink section="activity" />
      </header>
      <p className="activity-links">
        <Link to="/activity/terminals">← {t("terminals")}</Link>
        <Link to={`/activity?serial=${encodeURIComponent(serial)}`}>{t("terminal.searchActivity")}</Link>
        {info?.pin && (
          <Link
            to={`/activity/working-time?${new URLSearchParams({ instance_id: info.instance_id, pin: info.pin }).toString()}`}
          >
            {t("wt.ofPin", { pin: info.pin })}
          </Link>
        )}
      </p>
      {terminal.isPending && <Loading />}
      {terminal.error && !info && (
        <ErrorState
          error={
            terminal.error instanceof ApiError && terminal.error.status === 404 ? t("terminal.notFound") : terminal.error
          }
          onRetry={() => void terminal.refetch()}
        />
      )}
      {info && (
        <article className="card" aria-labelledby="terminal-info-title">
          <h2 id="terminal-info-title">{t("terminal.info")}</h2>
          <dl className="details">
            <dt>{t("terminal.lastSeen")}</dt>
            <dd>
              <time dateTime={info.last_seen}>{formatTime(info.last_seen, i18n.language)}</time>
            </dd>
            <dt>{t("terminal.lastAction")}</dt>
            <dd>{actionLabel(t, info.last_action)}</dd>
            <dt>{t("terminal.device")}</dt>
            <dd>{[info.maker, info.model].filter(Boolean).join(" ") || none}</dd>
            <dt>{t("terminal.os")}</dt>
            <dd>{[info.os, info.os_version].filter(Boolean).join(" ") || none}</dd>
            <dt>{t("terminal.appVersion")}</dt>
            <dd>{info.app_version ?? none}</dd>
            <dt>{t("terminal.battery")}</dt>
            <dd>{info.battery_pct === null ? none : `${info.battery_pct} %`}</dd>
            <dt>{t("terminal.location")}</dt>
            <dd>{info.location ? <Location location={info.location} /> : none}</dd>
            <dt>{t("map.lastPositionLabel")}</dt>
            <dd data-testid="terminal-last-position">
              {info.last_position ? (
                <>
                  {info.last_position.lat.toFixed(5)}, {info.last_position.lon.toFixed(5)}{" "}
                  <span className="muted">
                    ({formatTime(info.last_position.occurred_at, i18n.language)}
                    {info.last_position.accuracy_m != null &&
                      ` · ${t("record.accuracy", { meters: Math.round(info.last_position.accuracy_m) })}`}
                    )
                  </span>
                </>
              ) : (
                none
              )}
            </dd>
            <dt>{t("terminal.pin")}</dt>
            <dd>{info.pin ?? none}</dd>
            <dt>{t("terminal.instance")}</dt>
            <dd>
              <Link to={`/instances/${encodeURIComponent(info.instance_id)}`}>{info.instance_id}</Link>
            </dd>
            <dt>{t("terminal.license")}</dt>
            <dd data-testid="terminal-license">{info.license_id ?? t("terminal.noLicense")}</dd>
          </dl>
          {releasedAt !== null && (
            <p className="notice notice-success" role="status">
              {releaseShown ? t("release.shown") : t("release.done")}
            </p>
          )}
          {releasable?.pin && (
            <div className="actions">
              <ReleaseLicense
                recordId={releasable.id}
                serial={serial}
                pin={releasable.pin}
                onReleased={() => {
                  setReleasedAt(Date.now());
                  void invalidatePaths("/activity", "/instances", "/views/instances");
                }}
              />
            </div>
          )}
        </article>
      )}
      {info && <Positions serial={serial} last={info?.last_position ?? null} />}
      <section aria-labelledby="terminal-timeline-title">
        <h2 id="terminal-timeline-title" className="activity-results-title">
          {t("terminal.timeline")}
        </h2>
        {actions.error && <p className="muted">{t("trail.unavailable")}</p>}
        <RecordList
          records={timeline}
          actions={actions.data?.items}
          empty={t("terminal.noTimeline")}
          label={t("terminal.timeline")}
        />
      </section>
    </section>
  );
}
