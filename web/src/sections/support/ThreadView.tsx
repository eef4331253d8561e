import { useQuery, type InfiniteData } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";

import { api, ApiError, idempotencyKey, type Page } from "../../api/client";
import { apiQuery, pagesKey, queryClient, usePagedQuery, type Paged } from "../../api/queries";
import { useAuth } from "../../auth/AuthContext";
import { HelpLink } from "../../components/HelpLink";
import { useMediaQuery } from "../../components/hooks";
import { DegradedNotice, Empty, ErrorState, Loading } from "../../components/states";
import { useNotifications } from "../../notifications/NotificationsContext";
import { formatWhen, noteText, type Instance, type Message, type ThreadView as ThreadViewData } from "./types";

const PAGE_SIZE = 20;
const MAX_BODY_CHARS = 5000;

/** R-12..R-14: the thread's toolbar (company, instances and their licenses) and its messages. */
export function ThreadView() {
  const { threadId = "" } = useParams();
  const { t } = useTranslation("support");
  const { user } = useAuth();
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
        <MessageList messages={messages} />
        <p className="visually-hidden" role="status" aria-live="polite">
          {arrivals > 0 ? t("thread.arrived") : ""}
        </p>
        <Composer path={path} onSent={messages.add} />
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

function MessageList({ messages }: { messages: Messages }) {
  const { t } = useTranslation("support");
  if (messages.error && messages.items.length === 0) return <ErrorState error={messages.error} onRetry={messages.reload} />;
  if (messages.loading && messages.items.length === 0) return <Loading />;
  if (messages.items.length === 0) return <Empty>{t("thread.noMessages")}</Empty>;
  return (
    <div className="support-scroll">
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
          <MessageItem key={message.id} message={message} />
        ))}
      </ol>
    </div>
  );
}

function MessageItem({ message }: { message: Message }) {
  const { t, i18n } = useTranslation("support");
  const author =
    message.direction === "sent"
      ? t("thread.you")
      : message.author_side === "support"
        ? t("thread.authorSupport")
        : message.author_side === "partner"
          ? t("thread.authorPartner")
          : t("thread.authorSystem");
  return (
    <li className={`message ${message.direction}`} data-direction={message.direction}>
      <span className="visually-hidden">{t(`thread.${message.direction}`)}: </span>
      <p className="message-body">{noteText(message.note, message.text ?? message.body)}</p>
      <p className="message-meta">
        <span>{author}</span> · <time dateTime={message.created_at}>{formatWhen(message.created_at, i18n.language, true)}</time>
      </p>
    </li>
  );
}

// Apple keyboards send with ⌘ (metaKey), which the composer accepts too.
const APPLE = /Mac|iPhone|iPad/.test(navigator.userAgent);

function Composer({ path, onSent }: { path: string; onSent(message: Message): void }) {
  const { t } = useTranslation("support");
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  // One key per message: a retry after a failure posts it once; editing the text makes a new message.
  const key = useRef<string | null>(null);

  async function send(event?: FormEvent) {
    event?.preventDefault();
    const body = text.trim();
    if (!body || sending) return;
    key.current ??= idempotencyKey();
    setSending(true);
    setError(undefined);
    try {
      const message = await api<Message>(`${path}/messages`, {
        method: "POST",
        body: { body },
        headers: { "Idempotency-Key": key.current },
      });
      key.current = null;
      setText("");
      onSent(message);
    } catch (failure) {
      setError(failure);
    } finally {
      setSending(false);
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) void send();
  }

  // Ctrl/⌘+Enter means nothing on a touch screen: the hint shows (and describes the field) only with a fine pointer.
  const keyboardHint = useMediaQuery("(hover: hover) and (pointer: fine)");
  const fieldError = error instanceof ApiError ? error.fieldError("body") : undefined;
  const generalError =
    error === undefined || fieldError
      ? undefined
      : error instanceof ApiError
        ? `${error.readable} — ${t("thread.sendFailed")}`
        : t("thread.sendFailed");
  return (
    <form className="card support-composer" onSubmit={(event) => void send(event)}>
      <label>
        {t("thread.message")}
        <textarea
          value={text}
          rows={3}
          maxLength={MAX_BODY_CHARS}
          placeholder={t("thread.placeholder")}
          aria-invalid={fieldError ? true : undefined}
          aria-describedby={keyboardHint ? "support-composer-hint" : undefined}
          onChange={(event) => {
            setText(event.target.value);
            key.current = null;
            if (error) setError(undefined);
          }}
          onKeyDown={onKeyDown}
        />
      </label>
      {fieldError && (
        <p className="field-error" role="alert">
          {fieldError}
        </p>
      )}
      {generalError && (
        <p className="field-error" role="alert">
          {generalError}
        </p>
      )}
      <div className="support-composer-actions">
        {keyboardHint && (
          <span id="support-composer-hint" className="muted">
            {t(APPLE ? "thread.sendHintMac" : "thread.sendHint")}
          </span>
        )}
        <button type="submit" className="primary" disabled={sending || text.trim() === ""}>
          {sending ? t("thread.sending") : t("thread.send")}
        </button>
      </div>
    </form>
  );
}
