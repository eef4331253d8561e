// the acting partner's instances, searchable, filtered, sorted and paged; drafts in progress.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router-dom";

import { api, type Page } from "../../api/client";
import { apiQuery, usePagedQuery } from "../../api/queries";
import { HelpLink } from "../../components/HelpLink";
import { Empty, ErrorState, Loading } from "../../components/states";
import { formatDate, STATUSES, TYPES, type Instance } from "./api";
import { StatusBadge, TypeBadge } from "./parts";

const SORTS = ["-created_at", "name", "expiry_date", "-expiry_date", "type", "status"] as const;

export function InstanceList() {
  const { t, i18n } = useTranslation("instances");
  const [params, setParams] = useSearchParams();
  const type = params.get("type") ?? "";
  const status = params.get("status") ?? "";
  const sort = params.get("sort") ?? "-created_at";
  const q = params.get("q") ?? "";
  const [search, setSearch] = useState(q);
  useEffect(() => setSearch(q), [q]);

  const update = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };

  // Instance events make "/instances" stale (NotificationsProvider): the list refetches.
  const filters = { type, status, sort, q, limit: 20 };
  const list = usePagedQuery(["/instances", filters], (cursor, signal) =>
    api<Page<Instance>>("/instances", { query: { ...filters, cursor }, signal }),
  );

  return (
    <section>
      <header className="section-header">
        <h1>{t("title")}</h1>
        <HelpLink section="instances" />
      </header>
      <div className="toolbar">
        <Link className="button primary" to="/instances/new">
          {t("new")}
        </Link>
        <Link className="button" to="/instances/companies">
          {t("companies.title")}
        </Link>
      </div>
      <form
        className="toolbar"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          update("q", search.trim());
        }}
      >
        <input
          type="search"
          aria-label={t("searchLabel")}
          placeholder={t("searchPlaceholder")}
          value={search}
          maxLength={100}
          onChange={(e) => setSearch(e.target.value)}
        />
        <button type="submit">{t("common:search")}</button>
      </form>
      <div className="toolbar filters">
        <label>
          {t("filter.type")}
          <select value={type} onChange={(e) => update("type", e.target.value)}>
            <option value="">{t("filter.all")}</option>
            {TYPES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("filter.status")}
          <select value={status} onChange={(e) => update("status", e.target.value)}>
            <option value="">{t("filter.all")}</option>
            {STATUSES.map((value) => (
              <option key={value} value={value}>
                {t(`status.${value}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("filter.sort")}
          <select value={sort} onChange={(e) => update("sort", e.target.value)}>
            {SORTS.map((value) => (
              <option key={value} value={value}>
                {t(`sort.${value}`)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Provisionings />
      {list.error ? (
        <ErrorState error={list.error} onRetry={list.reload} />
      ) : list.items.length === 0 && !list.loading ? (
        <Empty>{q || type || status ? t("emptyFiltered") : t("empty")}</Empty>
      ) : (
        <ul className="list" aria-label={t("listLabel")}>
          {list.items.map((instance) => (
            <li key={instance.id}>
              <Link to={`/instances/${instance.id}`} className="instance-row">
                <span className="row-title">
                  <TypeBadge type={instance.type} /> <strong>{instance.name}</strong>
                </span>
                <span className="row-meta">
                  <StatusBadge status={instance.status} />
                  <span className="muted">
                    {t("expires", { date: formatDate(instance.expiry_date, i18n.language) })} ·{" "}
                    {t("seats", { inUse: instance.licenses.in_use, quota: instance.licenses.quota })}
                  </span>
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {list.loading && <Loading />}
      {list.hasMore && !list.loading && (
        <div className="actions center">
          <button type="button" onClick={list.loadMore}>
            {t("common:loadMore")}
          </button>
        </div>
      )}
    </section>
  );
}

/** Provisionings started and not generated yet: resume them. */
function Provisionings() {
  const { t } = useTranslation("instances");
  const pending = useQuery(apiQuery<Page<Instance>>("/provisionings?stage=draft&stage=provisioned&limit=20"));
  const items = pending.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <details className="card pending">
      <summary>{t("pending", { count: items.length })}</summary>
      <ul className="list">
        {items.map((item) => (
          <li key={item.id}>
            <Link to={`/instances/provisionings/${item.id}`}>
              <TypeBadge type={item.type} /> {item.name} <StatusBadge status={item.stage} kind="stage" />
            </Link>
          </li>
        ))}
      </ul>
    </details>
  );
}
