// Search across the messages of every thread the user may see (issue #21): words (accent- and
// case-insensitive on the server), a company, a date range; each hit's snippet with the matched words
// marked, and a link into its thread at that message. The filters live in the URL (back comes back).
import { useQuery } from "@tanstack/react-query";
import { useEffect, type ReactNode } from "react";
import { useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router-dom";

import { api, ApiError, type Page } from "../../api/client";
import { apiQuery, usePagedQuery, type Paged } from "../../api/queries";
import { useAuth } from "../../auth/AuthContext";
import { HelpLink } from "../../components/HelpLink";
import { Empty, ErrorState, Loading } from "../../components/states";
import { formatWhen, type SearchHit, type Thread } from "./types";

interface Values {
  q: string;
  company_id: string;
  from: string;
  to: string;
}

const FIELDS = ["q", "company_id", "from", "to"] as const;

/** A day (yyyy-mm-dd, the user's local day) as the instant it starts, or (`end`) its last millisecond. */
function dayBound(day: string, end: boolean): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const [year = 0, month = 1, date = 1] = day.split("-").map(Number);
  const instant = end ? new Date(year, month - 1, date, 23, 59, 59, 999) : new Date(year, month - 1, date);
  return instant.toISOString();
}

/** The snippet with the `highlights` ([start, end) in characters, as the server counts them: code
 * points) in <mark>; overlapping or out-of-range offsets are merged or clipped; never HTML. */
export function highlighted(snippet: string, highlights: [number, number][]): ReactNode[] {
  const characters = Array.from(snippet);
  const ranges = highlights
    .map(([start, end]) => [Math.max(0, start), Math.min(characters.length, end)] as [number, number])
    .filter(([start, end]) => end > start)
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push([...range]);
  }
  const parts: ReactNode[] = [];
  let at = 0;
  merged.forEach(([start, end], index) => {
    if (start > at) parts.push(characters.slice(at, start).join(""));
    parts.push(<mark key={index}>{characters.slice(start, end).join("")}</mark>);
    at = end;
  });
  if (at < characters.length) parts.push(characters.slice(at).join(""));
  return parts;
}

export function SearchPage() {
  const { t } = useTranslation("support");
  const { user, partnerId } = useAuth();
  const staff = user?.role === "staff";
  const [params, setParams] = useSearchParams();
  const current: Values = {
    q: params.get("q") ?? "",
    company_id: params.get("company_id") ?? "",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
  };
  const { register, handleSubmit, reset } = useForm<Values>({ defaultValues: current });
  const serialized = params.toString();
  useEffect(() => {
    // Back/forward change the URL: the form shows what is searched.
    const now = new URLSearchParams(serialized);
    reset({
      q: now.get("q") ?? "",
      company_id: now.get("company_id") ?? "",
      from: now.get("from") ?? "",
      to: now.get("to") ?? "",
    });
  }, [serialized, reset]);

  const companies = useQuery(
    apiQuery<Page<Thread>>("/threads", { partner_id: staff ? partnerId : undefined, limit: 100 }),
  );

  const filters = {
    q: current.q,
    company_id: current.company_id || undefined,
    from: dayBound(current.from, false),
    to: dayBound(current.to, true),
    partner_id: staff ? (partnerId ?? undefined) : undefined,
    limit: 20,
  };
  const searching = current.q.trim() !== "";
  const hits = usePagedQuery(
    ["/support/search", filters],
    (cursor, signal) => api<Page<SearchHit>>("/support/search", { query: { ...filters, cursor }, signal }),
    { enabled: searching },
  );
  const qProblem =
    hits.error instanceof ApiError && hits.error.status === 422 && hits.error.fieldError("q") !== undefined;

  function submit(values: Values) {
    const next = new URLSearchParams();
    for (const name of FIELDS) {
      const value = values[name].trim();
      if (value) next.set(name, value);
    }
    setParams(next);
  }

  return (
    <section className="support support-search-page">
      <header className="section-header">
        <h1>{t("search.title")}</h1>
        <HelpLink section="support" />
      </header>
      <nav className="toolbar" aria-label={t("search.toolbar")}>
        <Link to="/support" className="support-back">
          ← {t("thread.back")}
        </Link>
      </nav>
      <form
        role="search"
        className="card support-search-form"
        aria-label={t("search.formLabel")}
        onSubmit={(event) => void handleSubmit(submit)(event)}
        noValidate
      >
        <label>
          {t("search.q")}
          <input
            type="search"
            maxLength={200}
            placeholder={t("search.qPlaceholder")}
            aria-invalid={qProblem ? true : undefined}
            aria-describedby={qProblem ? "support-search-q-error" : undefined}
            {...register("q")}
          />
        </label>
        {qProblem && (
          <p id="support-search-q-error" className="field-error" role="alert">
            {t("search.tooShort")}
          </p>
        )}
        <div className="support-search-filters">
          <label>
            {t("search.company")}
            <select {...register("company_id")}>
              <option value="">{t("search.anyCompany")}</option>
              {(companies.data?.items ?? []).map((thread) => (
                <option key={thread.company_id} value={thread.company_id}>
                  {thread.company_name ?? t("list.unnamed", { id: thread.company_id })}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t("search.from")}
            <input type="date" {...register("from")} />
          </label>
          <label>
            {t("search.to")}
            <input type="date" {...register("to")} />
          </label>
        </div>
        <div className="actions">
          <button type="submit" className="primary">
            {t("common:search")}
          </button>
        </div>
      </form>
      <SearchResults hits={hits} searching={searching} qProblem={qProblem} />
    </section>
  );
}

function SearchResults(props: { hits: Paged<SearchHit>; searching: boolean; qProblem: boolean }) {
  const { t } = useTranslation("support");
  const { t: common } = useTranslation();
  const { hits } = props;
  if (!props.searching) return <Empty>{t("search.hint")}</Empty>;
  if (props.qProblem) return null;
  if (hits.error && hits.items.length === 0) return <ErrorState error={hits.error} onRetry={hits.reload} />;
  if (hits.loading && hits.items.length === 0) return <Loading />;
  if (hits.items.length === 0) return <Empty>{t("search.noMatch")}</Empty>;
  return (
    <>
      <p className="visually-hidden" role="status" aria-live="polite">
        {t("search.found", { count: hits.items.length })}
      </p>
      <ul className="list support-hits" aria-label={t("search.results")}>
        {hits.items.map((hit) => (
          <SearchHitRow key={hit.message_id} hit={hit} />
        ))}
      </ul>
      {hits.hasMore && (
        <div className="actions">
          <button type="button" onClick={hits.loadMore} disabled={hits.loading}>
            {common("loadMore")}
          </button>
        </div>
      )}
    </>
  );
}

function SearchHitRow({ hit }: { hit: SearchHit }) {
  const { t, i18n } = useTranslation("support");
  const company = hit.company_name ?? t("list.unnamed", { id: hit.company_id });
  const side =
    hit.author_side === "support"
      ? t("thread.authorSupport")
      : hit.author_side === "partner"
        ? t("thread.authorPartner")
        : t("thread.authorSystem");
  // `author_name` is empty on notes and on messages from before names were kept: the side alone then.
  const author = hit.author_name ? t("thread.authorNamed", { name: hit.author_name, side }) : side;
  const target = `/support/threads/${encodeURIComponent(hit.thread_id)}?message=${encodeURIComponent(hit.message_id)}`;
  return (
    <li className="support-hit" data-testid="search-hit">
      <p className="support-thread-line">
        <strong className="support-thread-name">{company}</strong>
        <time className="muted" dateTime={hit.posted_at}>
          {formatWhen(hit.posted_at, i18n.language, true)}
        </time>
      </p>
      <p className="muted">{author}</p>
      <p className="support-hit-snippet">{highlighted(hit.snippet, hit.highlights)}</p>
      <Link to={target} className="button-link" aria-label={t("search.openIn", { company })}>
        {t("search.open")}
      </Link>
    </li>
  );
}
