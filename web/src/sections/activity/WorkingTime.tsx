// Issue #20, the working-time record (Spain: RDL 8/2019, art. 34.9 ET): per instance and worker
// (license PIN), a month at a glance, a day's detail with every version (the terminal's first, each
// correction after it, none overwritten) and the events it was computed from, a correction form,
// and the CSV/PDF exports. The choice (instance, PIN, month or day) lives in the address.
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router-dom";

import { api, ApiError, download, idempotencyKey, type Page } from "../../api/client";
import { apiQuery, invalidatePaths } from "../../api/queries";
import { HelpLink } from "../../components/HelpLink";
import { Empty, ErrorState, Loading, ScrollBox } from "../../components/states";
import type { CorrectionIn, LateRecord, WorkDay, WorkDayDetail, WorkMonth } from "./fieldTypes";
import {
  actionLabel,
  formatClock,
  formatHm,
  formatTime,
  fromLocalInput,
  localDay,
  timeZone,
  toLocalInput,
  type RecordPage,
} from "./model";

interface InstanceOption {
  id: string;
  name: string;
  type: string;
}

interface LicenseOption {
  id: string;
  pin: string;
  user_name: string;
  status: string;
}

const PATH = "/activity/working-time";

function useChoice() {
  const [params, setParams] = useSearchParams();
  return {
    instanceId: params.get("instance_id") ?? "",
    pin: params.get("pin") ?? "",
    month: params.get("month") ?? localDay().slice(0, 7),
    date: params.get("date") ?? "",
    params,
    setParams,
  };
}

function choiceLink(to: "month" | "day", instanceId: string, pin: string, value: string): string {
  const query = new URLSearchParams({ instance_id: instanceId, pin });
  query.set(to === "month" ? "month" : "date", value);
  return `/activity/working-time${to === "day" ? "/day" : ""}?${query.toString()}`;
}

/** The month at a glance, after choosing the instance, the worker and the month. */
export function WorkingTimePage() {
  const { t } = useTranslation("activity");
  const choice = useChoice();
  const ready = Boolean(choice.instanceId && choice.pin && choice.month);
  return (
    <section className="activity-page">
      <header className="section-header">
        <h1>{t("wt.title")}</h1>
        <HelpLink section="activity" />
      </header>
      <p className="activity-links">
        <Link to="/activity">← {t("title")}</Link>
      </p>
      <p className="muted">{t("wt.intro")}</p>
      <Chooser />
      {ready ? (
        <MonthView instanceId={choice.instanceId} pin={choice.pin} month={choice.month} />
      ) : (
        <Empty>{t("wt.choose")}</Empty>
      )}
    </section>
  );
}

function Chooser() {
  const { t } = useTranslation("activity");
  const choice = useChoice();
  const [instanceId, setInstanceId] = useState(choice.instanceId);
  const [pin, setPin] = useState(choice.pin);
  const [month, setMonth] = useState(choice.month);
  const [errors, setErrors] = useState<{ instance?: string; pin?: string; month?: string }>({});
  const instances = useQuery(apiQuery<Page<InstanceOption>>("/instances", { limit: 100, sort: "name" }));
  const licenses = useQuery({
    ...apiQuery<Page<LicenseOption>>(`/instances/${encodeURIComponent(instanceId)}/licenses`, { limit: 100 }),
    enabled: Boolean(instanceId),
  });
  const workers = instanceId ? (licenses.data?.items ?? []) : [];

  function submit(event: FormEvent) {
    event.preventDefault();
    const found: typeof errors = {};
    if (!instanceId) found.instance = t("wt.errors.instance");
    if (!pin.trim()) found.pin = t("wt.errors.pin");
    if (!/^\d{4}-\d{2}$/.test(month)) found.month = t("wt.errors.month");
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    const next = new URLSearchParams({ instance_id: instanceId, pin: pin.trim(), month });
    choice.setParams(next);
  }

  const described = (key: keyof typeof errors) =>
    errors[key] ? { "aria-invalid": true, "aria-describedby": `wt-${key}-error` } : {};
  return (
    <form className="card activity-search" onSubmit={submit} noValidate aria-labelledby="wt-choose-title">
      <h2 id="wt-choose-title">{t("wt.chooseTitle")}</h2>
      <div className="activity-grid">
        <div className="activity-field">
          <label>
            {t("wt.instance")}
            <select value={instanceId} onChange={(event) => setInstanceId(event.target.value)} {...described("instance")}>
              <option value="">{t("wt.pickInstance")}</option>
              {choice.instanceId && !instances.data?.items.some((item) => item.id === choice.instanceId) && (
                <option value={choice.instanceId}>{choice.instanceId}</option>
              )}
              {(instances.data?.items ?? []).map((instance) => (
                <option key={instance.id} value={instance.id}>
                  {instance.name} ({instance.type})
                </option>
              ))}
            </select>
          </label>
          {errors.instance && (
            <p className="field-error" id="wt-instance-error" role="alert">
              {errors.instance}
            </p>
          )}
        </div>
        <div className="activity-field">
          <label>
            {t("wt.worker")}
            <input
              value={pin}
              onChange={(event) => setPin(event.target.value)}
              list="wt-workers"
              spellCheck={false}
              maxLength={32}
              {...described("pin")}
            />
          </label>
          <datalist id="wt-workers">
            {workers.map((license) => (
              <option key={license.id} value={license.pin}>
                {license.user_name}
              </option>
            ))}
          </datalist>
          {errors.pin && (
            <p className="field-error" id="wt-pin-error" role="alert">
              {errors.pin}
            </p>
          )}
        </div>
        <div className="activity-field">
          <label>
            {t("wt.month")}
            <input type="month" value={month} onChange={(event) => setMonth(event.target.value)} {...described("month")} />
          </label>
          {errors.month && (
            <p className="field-error" id="wt-month-error" role="alert">
              {errors.month}
            </p>
          )}
        </div>
      </div>
      <div className="actions">
        <button type="submit" className="primary">
          {t("wt.show")}
        </button>
      </div>
    </form>
  );
}

/** Every day of a month (YYYY-MM) as YYYY-MM-DD. */
function daysOf(month: string): string[] {
  const [year, number] = month.split("-").map(Number);
  if (!year || !number) return [];
  const count = new Date(year, number, 0).getDate();
  return Array.from({ length: count }, (_, index) => `${month}-${String(index + 1).padStart(2, "0")}`);
}

function weekday(date: string, language: string): string {
  return new Intl.DateTimeFormat(language, { weekday: "short", day: "numeric" }).format(new Date(`${date}T12:00:00`));
}

function pausesOf(day: WorkDay, language: string): string {
  if (day.pauses.length === 0) return "—";
  return day.pauses.map((pause) => `${formatClock(pause.start, language)}–${formatClock(pause.end, language)}`).join(", ");
}

export function FlagBadges({ flags }: { flags: string[] }) {
  const { t } = useTranslation("activity");
  const names = t("wt.flags", { returnObjects: true }) as Record<string, { label: string; explain: string }>;
  return (
    <>
      {flags.map((flag) => (
        <span key={flag} className={`badge flag flag-${flag}`} title={names[flag]?.explain ?? flag}>
          {names[flag]?.label ?? flag}
        </span>
      ))}
    </>
  );
}

/** What each flag shown means, in words (the badges' legend). */
function FlagLegend({ flags }: { flags: string[] }) {
  const { t } = useTranslation("activity");
  const names = t("wt.flags", { returnObjects: true }) as Record<string, { label: string; explain: string }>;
  if (flags.length === 0) return null;
  return (
    <dl className="details wt-legend" aria-label={t("wt.legend")}>
      {flags.map((flag) => (
        <div key={flag} className="contents">
          <dt>
            <span className={`badge flag flag-${flag}`}>{names[flag]?.label ?? flag}</span>
          </dt>
          <dd>{names[flag]?.explain ?? flag}</dd>
        </div>
      ))}
    </dl>
  );
}

function MonthView({ instanceId, pin, month }: { instanceId: string; pin: string; month: string }) {
  const { t, i18n } = useTranslation("activity");
  const tz = timeZone();
  const record = useQuery(apiQuery<WorkMonth>(PATH, { instance_id: instanceId, pin, month, tz }));
  const data = record.data;
  if (record.error && !data)
    return (
      <ErrorState
        error={record.error instanceof ApiError && record.error.status === 404 ? t("wt.notFound") : record.error}
        onRetry={() => void record.refetch()}
      />
    );
  if (!data) return <Loading />;
  const byDate = new Map(data.days.map((day) => [day.date, day]));
  const flags = [...new Set(data.days.flatMap((day) => day.flags))];
  const title = t("wt.monthTitle", {
    who: data.user ?? t("wt.pinOnly", { pin: data.pin }),
    month: new Intl.DateTimeFormat(i18n.language, { month: "long", year: "numeric" }).format(new Date(`${month}-01T12:00:00`)),
  });
  return (
    <section className="card" aria-labelledby="wt-month-title" aria-busy={record.isFetching}>
      <h2 id="wt-month-title">{title}</h2>
      <p className="muted">
        {t("wt.pinLine", { pin: data.pin, instance: data.instance_id })} · {t("wt.rules", { version: data.rules_version })}
      </p>
      <p className="wt-total" data-testid="wt-total">
        {t("wt.total")}: <strong>{formatHm(data.total_worked_s)}</strong>{" "}
        <span className="muted">({t("wt.daysWorked", { count: data.days.filter((day) => day.worked_s > 0).length })})</span>
      </p>
      <ExportButtons instanceId={instanceId} pin={pin} month={month} />
      <ScrollBox label={title}>
        <table className="wt-month" aria-label={title}>
          <thead>
            <tr>
              <th scope="col">{t("wt.day")}</th>
              <th scope="col">{t("wt.start")}</th>
              <th scope="col">{t("wt.end")}</th>
              <th scope="col">{t("wt.pauses")}</th>
              <th scope="col">{t("wt.worked")}</th>
              <th scope="col">{t("wt.notes")}</th>
            </tr>
          </thead>
          <tbody>
            {daysOf(month).map((date) => {
              const day = byDate.get(date);
              return (
                <tr key={date} className={day ? "wt-day" : "wt-day wt-empty"} data-date={date}>
                  <th scope="row">
                    {day ? (
                      <Link to={choiceLink("day", instanceId, pin, date)}>{weekday(date, i18n.language)}</Link>
                    ) : (
                      <span className="muted">{weekday(date, i18n.language)}</span>
                    )}
                  </th>
                  <td>{day ? formatClock(day.start, i18n.language) : ""}</td>
                  <td>{day ? formatClock(day.end, i18n.language) : ""}</td>
                  <td>{day ? pausesOf(day, i18n.language) : ""}</td>
                  <td>{day ? formatHm(day.worked_s) : ""}</td>
                  <td>
                    {day && day.version > 1 && (
                      <span className="badge corrected" title={t("wt.correctedTitle", { version: day.version })}>
                        {t("wt.corrected")}
                      </span>
                    )}
                    {day && <FlagBadges flags={day.flags} />}
                  </td>
                </tr>
              );
            })}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={4}>
                {t("wt.total")}
              </th>
              <td>
                <strong>{formatHm(data.total_worked_s)}</strong>
              </td>
              <td />
            </tr>
          </tfoot>
        </table>
      </ScrollBox>
      {data.days.length === 0 && <Empty>{t("wt.noDays")}</Empty>}
      <FlagLegend flags={flags} />
    </section>
  );
}

function ExportButtons({ instanceId, pin, month }: { instanceId: string; pin: string; month: string }) {
  const { t } = useTranslation("activity");
  const [busy, setBusy] = useState<"csv" | "pdf" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [hash, setHash] = useState<string | null>(null);

  async function run(format: "csv" | "pdf") {
    setBusy(format);
    setError(null);
    setHash(null);
    try {
      const headers = await download(
        `${PATH}/export`,
        { instance_id: instanceId, pin, month, format, tz: timeZone() },
        `working-time-${pin}-${month}.${format}`,
      );
      if (format === "pdf") setHash(headers.get("X-Content-SHA256"));
    } catch (failure) {
      setError(t("wt.exportFailed", { detail: failure instanceof ApiError ? failure.readable : String(failure) }));
    } finally {
      setBusy(null);
    }
  }

  return (
    <div className="toolbar wt-export">
      {(["csv", "pdf"] as const).map((format) => (
        <button key={format} type="button" onClick={() => void run(format)} disabled={busy !== null} aria-busy={busy === format}>
          {busy === format ? t("wt.exporting") : t(`wt.export.${format}`)}
        </button>
      ))}
      {hash && (
        <p className="muted wt-hash" role="status">
          {t("wt.hash")}: <code>{hash}</code>
        </p>
      )}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** One day: the current version, the events it comes from (device and server time), every version
 * oldest first, and the correction form. */
export function WorkDayPage() {
  const { t, i18n } = useTranslation("activity");
  const { instanceId, pin, date } = useChoice();
  const tz = timeZone();
  const [correcting, setCorrecting] = useState(false);
  const [saved, setSaved] = useState<number | null>(null);
  const day = useQuery({
    ...apiQuery<WorkDayDetail>(`${PATH}/days`, { instance_id: instanceId, pin, date, tz }),
    enabled: Boolean(instanceId && pin && date),
  });
  const data = day.data;
  const heading = date
    ? new Intl.DateTimeFormat(i18n.language, { dateStyle: "full" }).format(new Date(`${date}T12:00:00`))
    : "";
  return (
    <section className="activity-page">
      <header className="section-header">
        <h1>{t("wt.dayTitle", { date: heading })}</h1>
        <HelpLink section="activity" />
      </header>
      <p className="activity-links">
        <Link to={choiceLink("month", instanceId, pin, date.slice(0, 7))}>← {t("wt.backToMonth")}</Link>
      </p>
      {!instanceId || !pin || !date ? (
        <Empty>{t("wt.choose")}</Empty>
      ) : day.error && !data ? (
        <ErrorState
          error={day.error instanceof ApiError && day.error.status === 404 ? t("wt.notFound") : day.error}
          onRetry={() => void day.refetch()}
        />
      ) : !data ? (
        <Loading />
      ) : (
        <>
          {saved !== null && (
            <p className="notice notice-success" role="status">
              {t("wt.saved", { version: saved })}
            </p>
          )}
          <article className="card" aria-labelledby="wt-current-title">
            <h2 id="wt-current-title">
              {t("wt.current")}{" "}
              <span className="badge">{t("wt.version", { version: data.version })}</span>{" "}
              {data.version > 1 && <span className="badge corrected">{t("wt.corrected")}</span>}
            </h2>
            <DayFacts day={data} />
            <FlagLegend flags={data.flags} />
            {!correcting && (
              <div className="actions">
                <button type="button" className="primary" onClick={() => setCorrecting(true)}>
                  {t("wt.correct")}
                </button>
              </div>
            )}
          </article>
          {correcting && (
            <CorrectionForm
              instanceId={instanceId}
              pin={pin}
              date={date}
              day={data}
              onCancel={() => setCorrecting(false)}
              onSaved={(version) => {
                setCorrecting(false);
                setSaved(version);
                void invalidatePaths(PATH);
              }}
            />
          )}
          <SourceEvents day={data} pin={pin} date={date} />
          <section className="card" aria-labelledby="wt-versions-title">
            <h2 id="wt-versions-title">{t("wt.versions")}</h2>
            <ol className="wt-versions" aria-label={t("wt.versions")}>
              {data.versions.map((version) => (
                <li key={version.version} className="card" data-testid="wt-version">
                  <h3>
                    {t("wt.version", { version: version.version })} ·{" "}
                    {version.version === 1
                      ? t("wt.asReported")
                      : t("wt.correctedBy", {
                          who: version.corrected_by ?? "—",
                          when: version.corrected_at ? formatTime(version.corrected_at, i18n.language) : "—",
                        })}
                  </h3>
                  {version.reason && (
                    <p>
                      <strong>{t("wt.reason")}:</strong> {version.reason}
                    </p>
                  )}
                  <DayFacts day={version} />
                </li>
              ))}
            </ol>
          </section>
        </>
      )}
    </section>
  );
}

function DayFacts({ day }: { day: WorkDay }) {
  const { t, i18n } = useTranslation("activity");
  return (
    <dl className="details">
      <dt>{t("wt.start")}</dt>
      <dd>{day.start ? formatTime(day.start, i18n.language) : "—"}</dd>
      <dt>{t("wt.end")}</dt>
      <dd>{day.end ? formatTime(day.end, i18n.language) : "—"}</dd>
      <dt>{t("wt.pauses")}</dt>
      <dd>{pausesOf(day, i18n.language)}</dd>
      <dt>{t("wt.worked")}</dt>
      <dd>
        <strong>{formatHm(day.worked_s)}</strong>
      </dd>
      {day.flags.length > 0 && (
        <>
          <dt>{t("wt.notes")}</dt>
          <dd>
            <FlagBadges flags={day.flags} />
          </dd>
        </>
      )}
    </dl>
  );
}

/** The clock events the day was computed from, with the terminal's time and the server's. */
function SourceEvents({ day, pin, date }: { day: WorkDayDetail; pin: string; date: string }) {
  const { t, i18n } = useTranslation("activity");
  // One search of the PIN around the day (a day may cross midnight); the day's own records are kept.
  const from = new Date(`${date}T00:00:00`);
  from.setDate(from.getDate() - 1);
  const to = new Date(`${date}T00:00:00`);
  to.setDate(to.getDate() + 2);
  const ids = new Set(day.versions[0]?.source_record_ids ?? day.source_record_ids);
  const records = useQuery({
    ...apiQuery<RecordPage>("/activity/records", { pin, from: from.toISOString(), to: to.toISOString(), limit: 100 }),
    enabled: ids.size > 0,
  });
  const found = ((records.data?.items ?? []) as LateRecord[])
    .filter((record) => ids.has(record.id))
    .sort((a, b) => Date.parse(a.occurred_at) - Date.parse(b.occurred_at));
  return (
    <section className="card" aria-labelledby="wt-sources-title">
      <h2 id="wt-sources-title">{t("wt.sources")}</h2>
      <p className="muted">{t("wt.sourcesHint")}</p>
      {ids.size === 0 ? (
        <Empty>{t("wt.noSources")}</Empty>
      ) : records.error ? (
        <ErrorState error={records.error} onRetry={() => void records.refetch()} />
      ) : !records.data ? (
        <Loading />
      ) : (
        <ScrollBox label={t("wt.sources")}>
          <table aria-label={t("wt.sources")}>
            <thead>
              <tr>
                <th scope="col">{t("record.action")}</th>
                <th scope="col">{t("map.deviceTime")}</th>
                <th scope="col">{t("map.serverTime")}</th>
                <th scope="col">{t("record.serial")}</th>
              </tr>
            </thead>
            <tbody>
              {found.map((record) => (
                <tr key={record.id}>
                  <td>
                    <Link to={`/activity/records/${encodeURIComponent(record.id)}`}>{actionLabel(t, record.action)}</Link>{" "}
                    {record.late && <span className="badge late">{t("late.badge")}</span>}
                  </td>
                  <td>
                    <time dateTime={record.occurred_at}>{formatTime(record.occurred_at, i18n.language)}</time>
                  </td>
                  <td>
                    <time dateTime={record.received_at}>{formatTime(record.received_at, i18n.language)}</time>
                  </td>
                  <td>{record.serial}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
    </section>
  );
}

interface PauseRow {
  start: string;
  end: string;
}

type CorrectionErrors = Record<string, string | undefined>;

/** A new version of the day: start, end, pauses and the reason (required); the earlier versions stay. */
function CorrectionForm(props: {
  instanceId: string;
  pin: string;
  date: string;
  day: WorkDay;
  onCancel(): void;
  onSaved(version: number): void;
}) {
  const { t } = useTranslation("activity");
  const local = (iso: string | null) => (iso ? toLocalInput(new Date(iso)) : "");
  const [start, setStart] = useState(local(props.day.start) || `${props.date}T09:00`);
  const [end, setEnd] = useState(local(props.day.end));
  const [pauses, setPauses] = useState<PauseRow[]>(
    props.day.pauses.map((pause) => ({ start: local(pause.start), end: local(pause.end) })),
  );
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<CorrectionErrors>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [key] = useState(idempotencyKey);

  function validate(): CorrectionErrors {
    const found: CorrectionErrors = {};
    const startAt = fromLocalInput(start);
    const endAt = end ? fromLocalInput(end) : null;
    if (!startAt) found.start = t("wt.errors.start");
    if (end && !endAt) found.end = t("wt.errors.invalid");
    if (startAt && endAt && endAt <= startAt) found.end = t("wt.errors.endAfterStart");
    pauses.forEach((pause, index) => {
      const pauseStart = fromLocalInput(pause.start);
      const pauseEnd = fromLocalInput(pause.end);
      if (!pauseStart) found[`pauses.${index}.start`] = t("wt.errors.invalid");
      if (!pauseEnd) found[`pauses.${index}.end`] = t("wt.errors.invalid");
      else if (pauseStart && pauseEnd <= pauseStart) found[`pauses.${index}.end`] = t("wt.errors.endAfterStart");
    });
    if (!reason.trim()) found.reason = t("wt.errors.reason");
    return found;
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = validate();
    setErrors(found);
    setGeneral(null);
    if (Object.keys(found).length > 0) return;
    const body: CorrectionIn = {
      instance_id: props.instanceId,
      pin: props.pin,
      date: props.date,
      start: fromLocalInput(start)!,
      end: end ? fromLocalInput(end) : null,
      pauses: pauses.map((pause) => ({ start: fromLocalInput(pause.start)!, end: fromLocalInput(pause.end)! })),
      reason: reason.trim(),
      tz: timeZone(),
    };
    setBusy(true);
    try {
      const created = await api<WorkDay>(`${PATH}/corrections`, {
        method: "POST",
        body,
        headers: { "Idempotency-Key": key },
      });
      props.onSaved(created.version);
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 422 && failure.problem.errors?.length) {
        const named: CorrectionErrors = {};
        for (const problem of failure.problem.errors) {
          const field = problem.field.replace(/^body\./, "");
          named[field] = problem.message;
        }
        setErrors(named);
        const known = Object.keys(named).some((field) => field === "start" || field === "end" || field === "reason" || field.startsWith("pauses."));
        if (!known) setGeneral(failure.readable);
      } else {
        setGeneral(failure instanceof ApiError ? failure.readable : String(failure));
      }
    } finally {
      setBusy(false);
    }
  }

  const field = (name: string) =>
    errors[name] ? { "aria-invalid": true, "aria-describedby": `wt-fix-${name.replace(/\./g, "-")}-error` } : {};
  const message = (name: string) =>
    errors[name] ? (
      <p className="field-error" id={`wt-fix-${name.replace(/\./g, "-")}-error`} role="alert">
        {errors[name]}
      </p>
    ) : null;

  return (
    <form className="card wt-correction" onSubmit={(event) => void submit(event)} noValidate aria-labelledby="wt-fix-title">
      <h2 id="wt-fix-title">{t("wt.correctTitle")}</h2>
      <p className="muted">{t("wt.correctHint")}</p>
      <div className="activity-grid">
        <div className="activity-field">
          <label>
            {t("wt.start")}
            <input type="datetime-local" value={start} onChange={(event) => setStart(event.target.value)} {...field("start")} />
          </label>
          {message("start")}
        </div>
        <div className="activity-field">
          <label>
            {t("wt.endOptional")}
            <input type="datetime-local" value={end} onChange={(event) => setEnd(event.target.value)} {...field("end")} />
          </label>
          {message("end")}
        </div>
      </div>
      <fieldset className="wt-pauses">
        <legend>{t("wt.pauses")}</legend>
        {pauses.length === 0 && <p className="muted">{t("wt.noPauses")}</p>}
        {pauses.map((pause, index) => (
          <div key={index} className="activity-grid wt-pause">
            <div className="activity-field">
              <label>
                {t("wt.pauseStart", { n: index + 1 })}
                <input
                  type="datetime-local"
                  value={pause.start}
                  onChange={(event) =>
                    setPauses((rows) => rows.map((row, i) => (i === index ? { ...row, start: event.target.value } : row)))
                  }
                  {...field(`pauses.${index}.start`)}
                />
              </label>
              {message(`pauses.${index}.start`)}
            </div>
            <div className="activity-field">
              <label>
                {t("wt.pauseEnd", { n: index + 1 })}
                <input
                  type="datetime-local"
                  value={pause.end}
                  onChange={(event) =>
                    setPauses((rows) => rows.map((row, i) => (i === index ? { ...row, end: event.target.value } : row)))
                  }
                  {...field(`pauses.${index}.end`)}
                />
              </label>
              {message(`pauses.${index}.end`)}
            </div>
            <div className="actions">
              <button type="button" onClick={() => setPauses((rows) => rows.filter((_, i) => i !== index))}>
                {t("wt.removePause", { n: index + 1 })}
              </button>
            </div>
          </div>
        ))}
        <div className="actions">
          <button
            type="button"
            onClick={() => setPauses((rows) => [...rows, { start: `${props.date}T14:00`, end: `${props.date}T14:30` }])}
          >
            {t("wt.addPause")}
          </button>
        </div>
      </fieldset>
      <div className="activity-field">
        <label>
          {t("wt.reasonRequired")}
          <textarea
            value={reason}
            maxLength={500}
            rows={3}
            required
            onChange={(event) => setReason(event.target.value)}
            {...field("reason")}
          />
        </label>
        {message("reason")}
      </div>
      {general && (
        <p className="field-error" role="alert">
          {general}
        </p>
      )}
      <div className="actions">
        <button type="button" onClick={props.onCancel}>
          {t("cancel", { ns: "common" })}
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {t("wt.saveCorrection")}
        </button>
      </div>
    </form>
  );
}
