import { cloneElement, useEffect, useState, type FormEvent, type ReactElement } from "react";
import { useTranslation } from "react-i18next";
import { Link, Route, Routes, useSearchParams } from "react-router-dom";

import { api, ApiError, type Page } from "../../api/client";
import { HelpLink } from "../../components/HelpLink";
import { usePagedQuery } from "../../api/queries";
import { Empty, ErrorState, Loading } from "../../components/states";
import "./activity.css";
import { DAY, deviceText, formatTime, fromLocalInput, toLocalInput, actionLabel, type RecordPage, type Terminal } from "./model";
import { RecordDetail } from "./RecordDetail";
import { RecordList } from "./RecordList";
import { TerminalPage } from "./TerminalPage";
import { WorkDayPage, WorkingTimePage } from "./WorkingTime";

export default function ActivityRoutes() {
  return (
    <Routes>
      <Route index element={<ActivitySearch />} />
      <Route path="records/:recordId" element={<RecordDetail />} />
      <Route path="terminals" element={<TerminalsPage />} />
      <Route path="terminals/:serial" element={<TerminalPage />} />
      <Route path="working-time" element={<WorkingTimePage />} />
      <Route path="working-time/day" element={<WorkDayPage />} />
      <Route path="*" element={<ActivitySearch />} />
    </Routes>
  );
}

interface Query {
  serial: string;
  pin: string;
  from: string;
  to: string;
}

type FieldErrors = Partial<Record<keyof Query, string>>;

/** a terminal's activity by serial or PIN in a date-time window; the query lives in the URL. */
function ActivitySearch() {
  const { t } = useTranslation("activity");
  const [params, setParams] = useSearchParams();
  const submitted: Query | null =
    params.get("serial") || params.get("pin")
      ? {
          serial: params.get("serial") ?? "",
          pin: params.get("pin") ?? "",
          from: params.get("from") ?? "",
          to: params.get("to") ?? "",
        }
      : null;
  const [form, setForm] = useState(() => initialForm(submitted));
  const [errors, setErrors] = useState<FieldErrors>({});

  function update(field: keyof Query, value: string) {
    setForm((previous) => ({ ...previous, [field]: value }));
    setErrors((previous) => ({ ...previous, [field]: undefined }));
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const found: FieldErrors = {};
    const serial = form.serial.trim();
    const pin = form.pin.trim();
    if (!serial && !pin) found.serial = t("errors.serialOrPin");
    if (serial && pin) found.pin = t("errors.notBoth");
    const from = fromLocalInput(form.from);
    const to = fromLocalInput(form.to);
    if (!from) found.from = t("errors.required");
    if (!to) found.to = t("errors.required");
    if (from && to && from >= to) found.from = t("errors.fromBeforeTo");
    setErrors(found);
    if (Object.keys(found).length > 0 || !from || !to) return;
    const next = new URLSearchParams();
    if (serial) next.set("serial", serial);
    else next.set("pin", pin);
    next.set("from", from);
    next.set("to", to);
    setParams(next);
  }

  function lastDay() {
    const now = new Date();
    setForm((previous) => ({
      ...previous,
      from: toLocalInput(new Date(now.getTime() - DAY)),
      to: toLocalInput(now),
    }));
    setErrors((previous) => ({ ...previous, from: undefined, to: undefined }));
  }

  return (
    <section className="activity-page">
      <header className="section-header">
        <h1>{t("title")}</h1>
        <HelpLink section="activity" />
      </header>
      <form className="card activity-search" onSubmit={submit} noValidate aria-labelledby="activity-search-title">
        <h2 id="activity-search-title">{t("searchTitle")}</h2>
        <p className="muted">{t("searchHint")}</p>
        <div className="activity-grid">
          <Field label={t("serial")} error={errors.serial} id="activity-serial">
            <input
              value={form.serial}
              onChange={(event) => update("serial", event.target.value)}
              autoCapitalize="characters"
              spellCheck={false}
              maxLength={64}
            />
          </Field>
          <Field label={t("pin")} error={errors.pin} id="activity-pin">
            <input
              value={form.pin}
              onChange={(event) => update("pin", event.target.value)}
              inputMode="text"
              spellCheck={false}
              maxLength={32}
            />
          </Field>
          <Field label={t("from")} error={errors.from} id="activity-from">
            <input
              type="datetime-local"
              value={form.from}
              onChange={(event) => update("from", event.target.value)}
            />
          </Field>
          <Field label={t("to")} error={errors.to} id="activity-to">
            <input
              type="datetime-local"
              value={form.to}
              onChange={(event) => update("to", event.target.value)}
            />
          </Field>
        </div>
        <div className="actions">
          <button type="button" onClick={lastDay}>
            {t("lastDay")}
          </button>
          <button type="submit" className="primary">
            {t("search")}
          </button>
        </div>
      </form>
      {submitted ? (
        <SearchResults key={params.toString()} query={submitted} onFieldErrors={setErrors} />
      ) : (
        <>
          <div className="section-header activity-subheader">
            <h2>{t("recentTerminals")}</h2>
            <span className="activity-links">
              <Link to="/activity/working-time">{t("wt.title")}</Link>
              <Link to="/activity/terminals">{t("terminals")}</Link>
            </span>
          </div>
          <TerminalList limit={5} />
        </>
      )}
    </section>
  );
}

/** An input inside its <label>; the error below it, tied with aria-describedby. */
function Field({ label, error, id, children }: { label: string; error?: string; id: string; children: ReactElement }) {
  const errorId = `${id}-error`;
  return (
    <div className="activity-field">
      <label>
        {label}
        {cloneElement(children as ReactElement<Record<string, unknown>>, {
          "aria-invalid": Boolean(error),
          "aria-describedby": error ? errorId : undefined,
        })}
      </label>
      {error && (
        <p className="field-error" id={errorId} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function initialForm(submitted: Query | null): Query {
  const now = new Date();
  const from = submitted?.from ? new Date(submitted.from) : new Date(now.getTime() - DAY);
  const to = submitted?.to ? new Date(submitted.to) : now;
  return {
    serial: submitted?.serial ?? "",
    pin: submitted?.pin ?? "",
    from: toLocalInput(Number.isNaN(from.getTime()) ? new Date(now.getTime() - DAY) : from),
    to: toLocalInput(Number.isNaN(to.getTime()) ? now : to),
  };
}

function SearchResults({ query, onFieldErrors }: { query: Query; onFieldErrors(errors: FieldErrors): void }) {
  const { t, i18n } = useTranslation("activity");
  const filters = {
    serial: query.serial || undefined,
    pin: query.pin || undefined,
    from: query.from || undefined,
    to: query.to || undefined,
    limit: 25,
  };
  const records = usePagedQuery(["/activity/records", filters], (cursor, signal) =>
    api<RecordPage>("/activity/records", { query: { ...filters, cursor }, signal }),
  );
  const span = records.pages.at(-1)?.window ?? null;
  // The API's validation errors go next to the fields they name.
  const { error } = records;
  useEffect(() => {
    if (!(error instanceof ApiError) || error.status !== 422) return;
    const fields: FieldErrors = {};
    for (const field of ["serial", "pin", "from", "to"] as const) {
      const message = error.fieldError(field);
      if (message) fields[field] = message;
    }
    if (Object.keys(fields).length > 0) onFieldErrors(fields);
  }, [error, onFieldErrors]);
  return (
    <section aria-labelledby="activity-results-title">
      <h2 id="activity-results-title" className="activity-results-title">
        {t("results")}
      </h2>
      {span?.from && span.to && (
        <p className="muted">
          {t("resultsWindow", { from: formatTime(span.from, i18n.language), to: formatTime(span.to, i18n.language) })}
        </p>
      )}
      <RecordList records={records} empty={t("noResults")} label={t("results")} />
    </section>
  );
}

function TerminalsPage() {
  const { t } = useTranslation("activity");
  return (
    <section className="activity-page">
      <header className="section-header">
        <h1>{t("terminals")}</h1>
        <HelpLink section="activity" />
      </header>
      <p>
        <Link to="/activity">← {t("title")}</Link>
      </p>
      <TerminalList />
    </section>
  );
}

/** The partner's terminals, last seen first: an entry point to each terminal's information. */
function TerminalList({ limit }: { limit?: number }) {
  const { t, i18n } = useTranslation("activity");
  const terminals = usePagedQuery(["/activity/terminals", { limit: limit ?? 20 }], (cursor, signal) =>
    api<Page<Terminal>>("/activity/terminals", { query: { limit: limit ?? 20, cursor }, signal }),
  );
  const { items, loading, error } = terminals;
  if (error && items.length === 0) return <ErrorState error={error} onRetry={terminals.reload} />;
  if (loading && items.length === 0) return <Loading />;
  if (items.length === 0) return <Empty>{t("noTerminals")}</Empty>;
  return (
    <>
      <ul className="list" aria-label={t("terminals")}>
        {items.map((terminal) => (
          <li key={terminal.serial}>
            <Link to={`/activity/terminals/${encodeURIComponent(terminal.serial)}`}>
              <span className="activity-row-top">
                <strong>{terminal.serial}</strong>
                <span className={`badge ${terminal.license_id ? "active" : "released"}`}>
                  {terminal.license_id ? t("terminal.license") : t("terminal.noLicense")}
                </span>
              </span>
              <span className="muted activity-row-meta">
                <time dateTime={terminal.last_seen}>{formatTime(terminal.last_seen, i18n.language)}</time>
                <span>{actionLabel(t, terminal.last_action)}</span>
                {deviceText(terminal) && <span>{deviceText(terminal)}</span>}
              </span>
            </Link>
          </li>
        ))}
      </ul>
      {!limit && terminals.hasMore && !loading && (
        <div className="actions">
          <button type="button" onClick={terminals.loadMore}>
            {t("loadMore", { ns: "common" })}
          </button>
        </div>
      )}
      {loading && <Loading />}
    </>
  );
}
