import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { api, type Page } from "../../api/client";
import { usePagedQuery, type Paged } from "../../api/queries";
import { useAuth } from "../../auth/AuthContext";
import { HelpLink } from "../../components/HelpLink";
import { PartnerSelector } from "../../components/PartnerSelector";
import { Empty, ErrorState, Loading } from "../../components/states";
import { formatWhen, notePreview, type Thread } from "./types";

const SEARCH_DELAY_MS = 300;

/** one thread per company of the acting partner, newest activity first. */
export function ThreadList() {
  const { t } = useTranslation("support");
  const { user, partnerId } = useAuth();
  const staff = user?.role === "staff";
  const [text, setText] = useState("");
  const [query, setQuery] = useState("");

  useEffect(() => {
    const timer = setTimeout(() => setQuery(text.trim()), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text]);

  // A posted message moves its thread up and changes its unread count: the notification makes
  // "/threads" stale (NotificationsProvider), and this list refetches.
  const filters = { q: query || undefined, partner_id: staff ? partnerId : undefined, limit: 20 };
  const threads = usePagedQuery(["/threads", filters], (cursor, signal) =>
    api<Page<Thread>>("/threads", { query: { ...filters, cursor }, signal }),
  );

  return (
    <section className="support support-threads">
      <header className="section-header">
        <h1>{t("title")}</h1>
        <HelpLink section="support" />
      </header>
      <div className="toolbar" role="toolbar" aria-label={t("list.toolbar")}>
        {staff && <PartnerSelector />}
        <form role="search" className="support-search" onSubmit={(event) => event.preventDefault()}>
          <label>
            <span className="visually-hidden">{t("list.search")}</span>
            <input
              type="search"
              value={text}
              placeholder={t("list.searchPlaceholder")}
              onChange={(event) => setText(event.target.value)}
              maxLength={100}
            />
          </label>
        </form>
        <button type="button" onClick={threads.reload} disabled={threads.loading}>
          {t("list.refresh")}
        </button>
      </div>
      <nav className="toolbar support-links" aria-label={t("list.more")}>
        <Link to="/support/search" className="button-link">
          {t("list.searchMessages")}
        </Link>
        {staff && (
          <Link to="/support/canned-replies" className="button-link">
            {t("list.cannedReplies")}
          </Link>
        )}
      </nav>
      <ThreadItems threads={threads} searching={query !== ""} />
    </section>
  );
}

function ThreadItems({ threads, searching }: { threads: Paged<Thread>; searching: boolean }) {
  const { t } = useTranslation("support");
  const { t: common } = useTranslation();
  if (threads.error && threads.items.length === 0) return <ErrorState error={threads.error} onRetry={threads.reload} />;
  if (threads.loading && threads.items.length === 0) return <Loading />;
  if (threads.items.length === 0) return <Empty>{searching ? t("list.noMatch") : t("list.empty")}</Empty>;
  return (
    <>
      {threads.error != null && <ErrorState error={threads.error} onRetry={threads.reload} />}
      <ul className="list support-thread-list" aria-label={t("list.threads")}>
        {threads.items.map((thread) => (
          <ThreadRow key={thread.id} thread={thread} />
        ))}
      </ul>
      {threads.hasMore && (
        <div className="actions">
          <button type="button" onClick={threads.loadMore} disabled={threads.loading}>
            {common("loadMore")}
          </button>
        </div>
      )}
    </>
  );
}

function ThreadRow({ thread }: { thread: Thread }) {
  const { t, i18n } = useTranslation("support");
  const last = thread.last_message;
  const name = thread.company_name ?? t("list.unnamed", { id: thread.company_id });
  return (
    <li className={thread.unread > 0 ? "unread" : undefined}>
      <Link to={`/support/threads/${encodeURIComponent(thread.id)}`} className="support-thread">
        <span className="support-thread-line">
          <strong className="support-thread-name">{name}</strong>
          {last && (
            <time className="muted" dateTime={last.at}>
              {formatWhen(last.at, i18n.language)}
            </time>
          )}
        </span>
        <span className="support-thread-line">
          <span className="support-thread-preview muted">
            {last ? (
              <>
                {last.direction === "sent" && t("list.you")}
                {notePreview(last.note, last.preview)}
              </>
            ) : (
              t("list.noMessages")
            )}
          </span>
          {thread.unread > 0 && (
            <>
              <span className="badge unread" data-testid="unread" aria-hidden="true">
                {thread.unread}
              </span>
              <span className="visually-hidden">{t("list.unread", { count: thread.unread })}</span>
            </>
          )}
        </span>
      </Link>
    </li>
  );
}
