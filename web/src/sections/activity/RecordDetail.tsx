import { useQuery } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";

import { api, ApiError } from "../../api/client";
import { HelpLink } from "../../components/HelpLink";
import { apiQuery, invalidatePaths } from "../../api/queries";
import { ErrorState, Loading } from "../../components/states";
import type { LateRecord } from "./fieldTypes";
import { actionLabel, formatTime, type ActivityRecord, type Terminal } from "./model";
import { ReleaseLicense } from "./Release";

/** every field of one record, its terminal, and "release license". */
export function RecordDetail() {
  const { recordId = "" } = useParams();
  const { t } = useTranslation("activity");
  const record = useQuery(apiQuery<LateRecord>(`/activity/records/${encodeURIComponent(recordId)}`));
  return (
    <section className="activity-page">
      <header className="section-header">
        <h1>{t("record.title")}</h1>
        <HelpLink section="activity" />
      </header>
      <p>
        <Link to="/activity">← {t("title")}</Link>
      </p>
      {record.isPending && <Loading />}
      {record.error && !record.data && (
        <ErrorState
          error={record.error instanceof ApiError && record.error.status === 404 ? t("record.notFound") : record.error}
          onRetry={() => void record.refetch()}
        />
      )}
      {record.data && <RecordView record={record.data} />}
    </section>
  );
}

function RecordView({ record }: { record: LateRecord }) {
  const { t, i18n } = useTranslation("activity");
  const [released, setReleased] = useState(false);
  const terminalPath = `/activity/terminals/${encodeURIComponent(record.serial)}`;
  // A terminal not known (yet) is no error here: it has no license to release.
  const terminal = useQuery({
    queryKey: [terminalPath, {}, "or-none"],
    queryFn: ({ signal }) =>
      api<Terminal>(terminalPath, { signal }).catch((failure: unknown) => {
        if (failure instanceof ApiError && failure.status === 404) return null;
        throw failure;
      }),
  });
  const none = t("record.none");
  const bound = terminal.data?.license_id ?? null;
  return (
    <>
      <article className="card" aria-label={t("record.title")}>
        <h2 className="activity-record-title">
          {actionLabel(t, record.action)} <span className={`badge kind-${record.kind}`}>{t(`kind.${record.kind}`)}</span>
          {record.late && (
            <span className="badge late" data-testid="late-badge">
              {t("late.badge")}
            </span>
          )}
        </h2>
        <dl className="details">
          <dt>{t("record.occurredAt")}</dt>
          <dd>
            <time dateTime={record.occurred_at}>{formatTime(record.occurred_at, i18n.language)}</time>
          </dd>
          <dt>{t("record.receivedAt")}</dt>
          <dd>
            <time dateTime={record.received_at}>{formatTime(record.received_at, i18n.language)}</time>
            {record.late && <p className="muted">{t("late.explain")}</p>}
          </dd>
          <dt>{t("record.action")}</dt>
          <dd>
            <code>{record.action}</code>
          </dd>
          <dt>{t("record.serial")}</dt>
          <dd>
            <Link to={terminalPath}>{record.serial}</Link>
          </dd>
          <dt>{t("record.pin")}</dt>
          <dd>{record.pin ?? none}</dd>
          <dt>{t("record.instance")}</dt>
          <dd>
            <Link to={`/instances/${encodeURIComponent(record.instance_id)}`}>{record.instance_id}</Link>
          </dd>
          <dt>{t("record.battery")}</dt>
          <dd>{record.battery_pct === null ? none : `${record.battery_pct} %`}</dd>
          <dt>{t("record.location")}</dt>
          <dd>{record.location ? <Location location={record.location} /> : none}</dd>
          <dt>{t("record.device")}</dt>
          <dd>{record.device ? <KeyValues values={record.device} /> : none}</dd>
          <dt>{t("record.details")}</dt>
          <dd>{Object.keys(record.details).length > 0 ? <KeyValues values={record.details} /> : none}</dd>
          <dt>{t("record.eventId")}</dt>
          <dd className="muted">{record.event_id}</dd>
        </dl>
        <div className="actions">
          <Link className="activity-button-link" to={terminalPath}>
            {t("record.viewTerminal")}
          </Link>
          {record.pin && bound && !released && (
            <ReleaseLicense
              recordId={record.id}
              serial={record.serial}
              pin={record.pin}
              onReleased={() => {
                setReleased(true);
                void invalidatePaths("/activity", "/instances", "/views/instances");
              }}
            />
          )}
        </div>
        {released && (
          <p className="notice notice-success" role="status">
            {t("release.done")} <Link to={terminalPath}>{t("record.viewTerminal")}</Link>
          </p>
        )}
        {!released && record.pin === null && record.kind === "telemetry" && (
          <p className="muted">{t("release.noPin")}</p>
        )}
        {!released && record.pin && terminal.data !== undefined && !bound && (
          <p className="muted">{t("release.noLicense")}</p>
        )}
      </article>
    </>
  );
}

export function Location({ location }: { location: NonNullable<ActivityRecord["location"]> }) {
  const { t } = useTranslation("activity");
  const { lat, lon, accuracy_m: accuracy } = location;
  if (typeof lat !== "number" || typeof lon !== "number") return <KeyValues values={location} />;
  return (
    <span>
      {lat.toFixed(5)}, {lon.toFixed(5)}
      {typeof accuracy === "number" && <span className="muted"> ({t("record.accuracy", { meters: accuracy })})</span>}{" "}
      <a
        href={`https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`}
        target="_blank"
        rel="noopener noreferrer"
      >
        {t("record.openMap")}
      </a>
    </span>
  );
}

export function KeyValues({ values }: { values: Record<string, unknown> }) {
  const entries = Object.entries(values).filter(([, value]) => value !== null && value !== undefined && value !== "");
  if (entries.length === 0) return <>—</>;
  return (
    <dl className="details activity-kv">
      {entries.map(([key, value]) => (
        <Entry key={key} name={key}>
          {typeof value === "object" ? JSON.stringify(value) : String(value)}
        </Entry>
      ))}
    </dl>
  );
}

function Entry({ name, children }: { name: string; children: ReactNode }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </>
  );
}
