import { useQuery, type InfiniteData } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams, useSearchParams } from "react-router-dom";

import { api, type Page } from "../../api/client";
import { apiQuery, pagesKey, queryClient, usePagedQuery, type Paged } from "../../api/queries";
import { useAuth } from "../../auth/AuthContext";
import { HelpLink } from "../../components/HelpLink";
import { DegradedNotice, Empty, ErrorState, Loading } from "../../components/states";
import { useNotifications } from "../../notifications/NotificationsContext";
import { AttachmentList } from "./Attachments";
import { Composer } from "./Composer";
import {
  formatWhen,
  messageElementId,
  noteText,
  type Instance,
  type Message,
  type ThreadView as ThreadViewData,
} from "./types";

const PAGE_SIZE = 20;
/** How many older pages a jump to a message (from a search result) loads at most to find it. */
const MAX_PAGES_TO_FIND = 50;

/** R-12..R-14: the thread's toolbar (company, instances and their licenses) and its messages. */
export function ThreadView() {
  const { threadId = "" } = useParams();
  const { t } = useTranslation("support");
  const { user } = useAuth();
  const [params] = useSearchParams();
  const target = params.get("message");
  const path = `/threads/${encodeURIComponent(threadId)}`;
  // The header refetches on instance and license events, the messages on a posted message
  // (NotificationsProvider's STALE_PATHS).
  const header = useQuery(apiQuery<ThreadViewData>(`/views${path}`));
  const messages = useMessages(path);

  const markRead = useCallback(() => {
    api(`${path}/read`, { method: "POST" }).catch(() => undefined); // a hint for the unread counts only
  }, [path]);
  useEffect(markRead, [markRead]);

  const [arrivals, setArrivals] = useState(0);
  useNotifications((notification) => {
    if (notification.type === "message.posted" && notification.data.thread_id === threadId) {
      markRead();
      if (notification.data.author_id !== user?.id) setArrivals((n) => n + 1);
    }
  });

  if (header.error && !header.data) {
    return (
      <section className="support support-thread">
        <BackLink />
        <ErrorState error={header.error} onRetry={() => void header.refetch()} />
      </section>
    );
  }
  if (!header.data) return <Loading />;
  const view = header.data;
  return (
    <section className="support support-thread">
      <header className="section-header">
        <BackLink />
        <HelpLink section="support" />
      </header>
      <ThreadHeader view={view} />
      <section className="support-conversation" aria-labelledby="support-messages-title">
        <h2 id="support-messages-title" className="visually-hidden">
          {t("thread.messages")}
        </h2>
        <MessageList messages={messages} threadPath={path} target={target} />
        <p className="visually-hidden" role="status" aria-live="polite">
          {arrivals > 0 ? t("thread.arrived") : ""}
        </p>
        <Composer path={path} staff={user?.role === "staff"} onSent={messages.add} />
      </section>
    </section>
  );
}

function BackLink() {
  const { t } = useTranslation("support");
  return (
    <Link to="/support" className="support-back">
      ← {t("thread.back")}
    </Link>
  );
}

function ThreadHeader({ view }: { view: ThreadViewData }) {
  const { t } = useTranslation("support");
  const { company, thread, instances } = view;
  const name = company?.name ?? thread.company_name ?? t("list.unnamed", { id: thread.company_id });
  const address = company ? [company.address.street, company.address.postal_code, company.address.city] : [];
  return (
    <div className="card support-header">
      <h1>{name}</h1>
      <DegradedNotice degraded={view.degraded} />
      <nav className="toolbar support-header-actions" aria-label={t("thread.toolbar")}>
        <Link to={`/instances/companies/${encodeURIComponent(thread.company_id)}`} className="button-link">
          {t("thread.viewCompany")}
        </Link>
      </nav>
      {company && (
        <details className="support-company">
          <summary>{t("thread.company")}</summary>
          <dl className="details">
            <dt>{t("thread.taxId")}</dt>
            <dd>{company.tax_id}</dd>
            <dt>{t("thread.contact")}</dt>
            <dd>{company.contact_person}</dd>
            <dt>{t("thread.email")}</dt>
            <dd>
              <a href={`mailto:${company.email}`}>{company.email}</a>
            </dd>
            <dt>{t("thread.phone")}</dt>
            <dd>
              <a href={`tel:${company.phone.replace(/[^+0-9]/g, "")}`}>{company.phone}</a>
            </dd>
            <dt>{t("thread.address")}</dt>
            <dd>{address.filter(Boolean).join(", ")}</dd>
          </dl>
        </details>
      )}
      {instances && (
        <>
          <h2 className="support-subtitle">{t("thread.instances")}</h2>
          {instances.items.length === 0 ? (
            <p className="muted">{t("thread.noInstances")}</p>
          ) : (
            <ul className="list support-instances" aria-label={t("thread.instances")}>
              {instances.items.map((instance) => (
                <InstanceRow key={instance.id} instance={instance} />
              ))}
            </ul>
          )}
        </>
      )}
    </div>
  );
}

function InstanceRow({ instance }: { instance: Instance }) {
  const { t } = useTranslation("support");
  const target = `/instances/${encodeURIComponent(instance.id)}`;
  const status = instance.status ?? "draft";
  return (
    <li className="support-instance">
      <div className="support-instance-line">
        <strong>{instance.name}</strong>
        <span className={`badge type-${instance.type.toLowerCase()}`}>{instance.type}</span>
        <span className={`badge ${status}`}>{t(`status.${status}`, { defaultValue: t("thread.draft") })}</span>
      </div>
      <p className="muted">{t("thread.licenses", { inUse: instance.licenses.in_use, quota: instance.licenses.quota })}</p>
      <div className="support-instance-actions">
        <Link to={target} aria-label={t("thread.instanceActionsOf", { name: instance.name })}>
          {t("thread.instanceActions")}
        </Link>
        <Link to={`${target}#licenses`} aria-label={t("thread.viewLicensesOf", { name: instance.name })}>
          {t("thread.viewLicenses")}
        </Link>
      </div>
    </li>
  );
}

type Messages = Paged<Message> & { add(message: Message): void };

/** Newest first, by `seq`; a page merged in never duplicates a message already shown. */
function merge(current: Message[], incoming: Message[]): Message[] {
  const byId = new Map(current.map((message) => [message.id, message]));
  for (const message of incoming) byId.set(message.id, message);
  return [...byId.values()].sort((a, b) => b.seq - a.seq);
}

function useMessages(path: string): Messages {
  const key = [`${path}/messages`, { limit: PAGE_SIZE }];
  const paged = usePagedQuery(key, (cursor, signal) =>
    api<Page<Message>>(`${path}/messages`, { query: { limit: PAGE_SIZE, cursor }, signal }),
  );
  return {
    ...paged,
    items: merge([], paged.items),
    // The posted message shows at once, before the notification refetches the newest page.
    add: (message) =>
      queryClient.setQueryData<InfiniteData<Page<Message>, string | null>>(pagesKey(key), (data) =>
        data
          ? { ...data, pages: data.pages.map((page, i) => (i === 0 ? { ...page, items: merge(page.items, [message]) } : page)) }
          : data,
      ),
  };
}

function MessageList({ messages, threadPath, target }: { messages: Messages; threadPath: string; target: string | null }) {
  const { t } = useTranslation("support");
  const found = useJumpTo(messages, target);
  if (messages.error && messages.items.length === 0) return <ErrorState error={messages.error} onRetry={messages.reload} />;
  if (messages.loading && messages.items.length === 0) return <Loading />;
  if (messages.items.length === 0) return <Empty>{t("thread.noMessages")}</Empty>;
  return (
    <div className="support-scroll">
      {found === "missing" && (
        <p className="notice notice-warning" role="status">
          {t("search.notInThread")}
        </p>
      )}
      {messages.hasMore && (
        <div className="support-older">
          <button type="button" onClick={messages.loadMore} disabled={messages.loading}>
            {t("thread.older")}
          </button>
        </div>
      )}
      {messages.error != null && <ErrorState error={messages.error} onRetry={messages.reload} />}
      <ol className="messages" aria-label={t("thread.messages")}>
        {messages.items.map((message) => (
          <MessageItem key={message.id} message={message} threadPath={threadPath} highlighted={message.id === target} />
        ))}
      </ol>
    </div>
  );
}

/** A search result opens the thread at its message: older pages load until it is there, then it
 * scrolls into view and takes the focus (so a screen reader reads it). */
function useJumpTo(messages: Messages, target: string | null): "found" | "missing" | "looking" | null {
  const pagesLoaded = useRef(0);
  const done = useRef<string | null>(null);
  const present = target !== null && messages.items.some((message) => message.id === target);
  const { hasMore, loading, loadMore, pages } = messages;
  useEffect(() => {
    if (!target || done.current === target) return;
    if (present) {
      const element = document.getElementById(messageElementId(target));
      if (element) {
        element.scrollIntoView({ block: "center" });
        element.focus({ preventScroll: true });
        done.current = target;
      }
    } else if (hasMore && !loading && pagesLoaded.current < MAX_PAGES_TO_FIND) {
      pagesLoaded.current += 1;
      loadMore();
    }
  }, [target, present, hasMore, loading, loadMore, pages.length]);
  if (!target) return null;
  if (present) return "found";
  return !hasMore && !loading && pages.length > 0 ? "missing" : "looking";
}

function MessageItem({ message, threadPath, highlighted }: { message: Message; threadPath: string; highlighted: boolean }) {
  const { t, i18n } = useTranslation("support");
  const side =
    message.author_side === "support"
      ? t("thread.authorSupport")
      : message.author_side === "partner"
        ? t("thread.authorPartner")
        : t("thread.authorSystem");
  // The name the author had when they wrote (empty on notes and older messages): "Mary Smith (Partner)".
  const author =
    message.direction === "sent"
      ? t("thread.you")
      : message.author_name
        ? t("thread.authorNamed", { name: message.author_name, side })
        : side;
  const body = noteText(message.note, message.text ?? message.body);
  return (
    <li
      id={messageElementId(message.id)}
      className={`message ${message.direction}${highlighted ? " highlighted" : ""}`}
      data-direction={message.direction}
      tabIndex={highlighted ? -1 : undefined}
      aria-current={highlighted ? "true" : undefined}
    >
      <span className="visually-hidden">{t(`thread.${message.direction}`)}: </span>
      {body && <p className="message-body">{body}</p>}
      <AttachmentList threadPath={threadPath} attachments={message.attachments} />
      <p className="message-meta">
        <span>{author}</span> · <time dateTime={message.created_at}>{formatWhen(message.created_at, i18n.language, true)}</time>
        {message.direction === "sent" && <ReadMark message={message} />}
      </p>
    </li>
  );
}

/** On one's own messages: sent (✓) or read by the other side (✓✓, with when, also for screen readers). */
function ReadMark({ message }: { message: Message }) {
  const { t, i18n } = useTranslation("support");
  const readAt = message.read_by_other_side_at;
  const otherSide = message.author_side === "support" ? t("thread.readByPartner") : t("thread.readBySupport");
  if (!readAt) {
    return (
      <span className="read-mark" data-testid="read-mark" data-read="false" title={t("thread.notReadYet")}>
        {" · "}
        <span aria-hidden="true">✓</span> {t("thread.delivered")}
        <span className="visually-hidden">, {t("thread.notReadYet")}</span>
      </span>
    );
  }
  const when = formatWhen(readAt, i18n.language, true);
  return (
    <span className="read-mark read" data-testid="read-mark" data-read="true" title={t("thread.readAt", { who: otherSide, when })}>
      {" · "}
      <span aria-hidden="true">✓✓</span> {t("thread.read")}
      <span className="visually-hidden">
        , <time dateTime={readAt}>{t("thread.readAt", { who: otherSide, when })}</time>
      </span>
    </span>
  );
}
