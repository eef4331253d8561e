// A subscription's delivery log, newest first: each delivery's outcome, last status code and latency,
// attempts and next retry, its attempts (with the receiver's answer) on demand; filters by event type
// and outcome, pages by cursor; replay one delivery, or every failed one since a moment.
import { useMutation } from "@tanstack/react-query";
import { Fragment, useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";

import { api } from "../../../api/client";
import { invalidatePaths, usePagedQuery } from "../../../api/queries";
import { useMediaQuery } from "../../../components/hooks";
import { Empty, ErrorState, Loading } from "../../../components/states";
import { formProblem, problemAt, useEventTypes, useFormatDateTime, WEBHOOKS } from "./shared";
import { DELIVERY_OUTCOMES, type Delivery, type DeliveryPage, type Replayed, type ReplayRequest } from "./types";

const PAGE_SIZE = 20;
/** While a delivery is pending the log reads itself again this often (ms). */
const POLL_MS = 2_000;

/** A datetime-local value (the browser's time zone) for `moment`. */
function localInput(moment: Date): string {
  const shifted = new Date(moment.getTime() - moment.getTimezoneOffset() * 60_000);
  return shifted.toISOString().slice(0, 16);
}

export function Deliveries({ subscriptionId }: { subscriptionId: string }) {
  const { t } = useTranslation("profile");
  const format = useFormatDateTime();
  const catalogue = useEventTypes();
  const path = `${WEBHOOKS}/${subscriptionId}/deliveries`;
  const [eventType, setEventType] = useState("");
  const [outcome, setOutcome] = useState("");
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [said, setSaid] = useState("");
  const [since, setSince] = useState(() => localInput(new Date(Date.now() - 24 * 3_600_000)));
  const pending = useRef(false);
  // A table where it fits; on a phone, a card per delivery.
  const wide = useMediaQuery("(min-width: 768px)");
  const filters = { event_type: eventType || undefined, outcome: outcome || undefined, limit: PAGE_SIZE };
  const log = usePagedQuery<DeliveryPage>(
    [path, filters],
    (cursor, signal) => api<DeliveryPage>(path, { query: { ...filters, cursor }, signal }),
    { refetchInterval: () => (pending.current ? POLL_MS : false) },
  );
  pending.current = log.items.some((delivery) => delivery.outcome === "pending");

  const replayOne = useMutation({
    mutationFn: (delivery: Delivery) => api<Delivery>(`${path}/${delivery.id}/replay`, { method: "POST" }),
    onSuccess: (_answer, delivery) => {
      void invalidatePaths(path);
      setSaid(t("webhooks.log.replayedOne", { type: delivery.event_type }));
    },
  });
  const replayFailed = useMutation({
    mutationFn: (body: ReplayRequest) =>
      api<Replayed>(`${WEBHOOKS}/${subscriptionId}/replay`, { method: "POST", body }),
    onSuccess: (answer) => {
      void invalidatePaths(path);
      setSaid(t("webhooks.log.replayedMany", { count: answer.replayed }));
    },
  });
  const sinceError = problemAt(replayFailed.error, "since");

  function replaySince(event: FormEvent) {
    event.preventDefault();
    if (!since) return;
    replayFailed.mutate({ since: new Date(since).toISOString(), outcome: "failed" });
  }

  function toggle(id: string) {
    setOpen((previous) => {
      const next = new Set(previous);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }

  const last = (delivery: Delivery) => delivery.attempts[delivery.attempts.length - 1];
  const detailsOf = (delivery: Delivery) => `webhook-delivery-${delivery.id}`;
  const actions = (delivery: Delivery) => {
    const expanded = open.has(delivery.id);
    return (
      <>
        <button
          type="button"
          aria-expanded={expanded}
          aria-controls={expanded ? detailsOf(delivery) : undefined}
          onClick={() => toggle(delivery.id)}
        >
          {expanded ? t("webhooks.log.hide") : t("webhooks.log.show")}
        </button>
        <button type="button" disabled={replayOne.isPending} onClick={() => replayOne.mutate(delivery)}>
          {t("webhooks.log.replay")}
        </button>
      </>
    );
  };
  const types = catalogue.data?.items ?? [];
  const filtered = Boolean(eventType || outcome);

  return (
    <section className="card webhook-log" aria-labelledby="webhook-log-title">
      <h2 id="webhook-log-title">{t("webhooks.log.title")}</h2>
      <div className="toolbar" role="group" aria-label={t("webhooks.log.filters")}>
        <label>
          {t("webhooks.log.eventType")}
          <select value={eventType} onChange={(event) => setEventType(event.target.value)}>
            <option value="">{t("webhooks.log.anyEventType")}</option>
            {types.map((item) => (
              <option key={item.type} value={item.type}>
                {item.type}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("webhooks.log.outcome")}
          <select value={outcome} onChange={(event) => setOutcome(event.target.value)}>
            <option value="">{t("webhooks.log.anyOutcome")}</option>
            {DELIVERY_OUTCOMES.map((value) => (
              <option key={value} value={value}>
                {t(`webhooks.outcome.${value}`)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p role="status" aria-live="polite" className="webhook-live" data-testid="webhook-log-said">
        {said}
      </p>
      {replayOne.error !== null && (
        <p className="field-error" role="alert">
          {formProblem(replayOne.error, [], t("common:offline"))}
        </p>
      )}
      {log.loading && log.pages.length === 0 && <Loading />}
      {log.error !== undefined && log.items.length === 0 && <ErrorState error={log.error} onRetry={log.reload} />}
      {!log.loading && log.error === undefined && log.items.length === 0 && (
        <Empty>{filtered ? t("webhooks.log.noneFiltered") : t("webhooks.log.none")}</Empty>
      )}
      {log.items.length > 0 && wide && (
        <div className="webhook-table" role="region" aria-labelledby="webhook-log-title" tabIndex={0}>
          <table>
            <caption className="webhook-caption">{t("webhooks.log.caption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("webhooks.log.time")}</th>
                <th scope="col">{t("webhooks.log.eventType")}</th>
                <th scope="col">{t("webhooks.log.outcome")}</th>
                <th scope="col">{t("webhooks.log.statusCode")}</th>
                <th scope="col">{t("webhooks.log.latency")}</th>
                <th scope="col">{t("webhooks.log.attempts")}</th>
                <th scope="col">{t("webhooks.log.nextRetry")}</th>
                <th scope="col">{t("webhooks.log.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {log.items.map((delivery) => {
                const attempt = last(delivery);
                return (
                  <Fragment key={delivery.id}>
                    <tr data-testid="webhook-delivery">
                      <td>{format(delivery.created_at)}</td>
                      <td>
                        <code>{delivery.event_type}</code>
                      </td>
                      <td>
                        <Outcome delivery={delivery} />
                      </td>
                      <td data-testid="webhook-status-code">{delivery.last_status_code ?? "—"}</td>
                      <td>{attempt ? t("webhooks.log.ms", { ms: attempt.latency_ms }) : "—"}</td>
                      <td>{delivery.attempt_count}</td>
                      <td>{format(delivery.next_attempt_at)}</td>
                      <td className="webhook-row-actions">{actions(delivery)}</td>
                    </tr>
                    {open.has(delivery.id) && (
                      <tr id={detailsOf(delivery)} className="webhook-attempts">
                        <td colSpan={8}>
                          <Attempts delivery={delivery} />
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {log.items.length > 0 && !wide && (
        <ul className="list webhook-deliveries" aria-label={t("webhooks.log.caption")}>
          {log.items.map((delivery) => {
            const attempt = last(delivery);
            return (
              <li key={delivery.id} data-testid="webhook-delivery">
                <div className="webhook-delivery-head">
                  <code>{delivery.event_type}</code>
                  <Outcome delivery={delivery} />
                </div>
                <dl className="details webhook-delivery-facts">
                  <dt>{t("webhooks.log.time")}</dt>
                  <dd>{format(delivery.created_at)}</dd>
                  <dt>{t("webhooks.log.statusCode")}</dt>
                  <dd data-testid="webhook-status-code">{delivery.last_status_code ?? "—"}</dd>
                  <dt>{t("webhooks.log.latency")}</dt>
                  <dd>{attempt ? t("webhooks.log.ms", { ms: attempt.latency_ms }) : "—"}</dd>
                  <dt>{t("webhooks.log.attempts")}</dt>
                  <dd>{delivery.attempt_count}</dd>
                  <dt>{t("webhooks.log.nextRetry")}</dt>
                  <dd>{format(delivery.next_attempt_at)}</dd>
                </dl>
                <div className="actions">{actions(delivery)}</div>
                {open.has(delivery.id) && (
                  <div id={detailsOf(delivery)} className="webhook-attempts">
                    <Attempts delivery={delivery} />
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {log.hasMore && (
        <div className="actions">
          <button type="button" onClick={log.loadMore} disabled={log.loading}>
            {t("common:loadMore")}
          </button>
        </div>
      )}
      <form className="webhook-replay" onSubmit={replaySince} noValidate aria-labelledby="webhook-replay-title">
        <h3 id="webhook-replay-title">{t("webhooks.log.replayTitle")}</h3>
        <label>
          {t("webhooks.log.since")}
          <input
            type="datetime-local"
            value={since}
            required
            onChange={(event) => setSince(event.target.value)}
            aria-invalid={sinceError ? true : undefined}
            aria-describedby={sinceError ? "webhook-since-error" : undefined}
          />
        </label>
        {sinceError && (
          <p className="field-error" id="webhook-since-error">
            {sinceError}
          </p>
        )}
        {replayFailed.error !== null && !sinceError && (
          <p className="field-error" role="alert">
            {formProblem(replayFailed.error, ["since"], t("common:offline"))}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={!since || replayFailed.isPending}>
            {t("webhooks.log.replayFailed")}
          </button>
        </div>
      </form>
    </section>
  );
}

function Outcome({ delivery }: { delivery: Delivery }) {
  const { t } = useTranslation("profile");
  return (
    <span className={`badge webhook-outcome-${delivery.outcome}`}>{t(`webhooks.outcome.${delivery.outcome}`)}</span>
  );
}

/** A delivery's attempts, each with its status code, latency, error and the receiver's answer (bounded). */
function Attempts({ delivery }: { delivery: Delivery }) {
  const { t } = useTranslation("profile");
  const format = useFormatDateTime();
  return (
    <>
      <p className="muted">
        {t("webhooks.log.eventId")}: <code>{delivery.event_id}</code>
      </p>
      {delivery.attempts.length === 0 ? (
        <p className="muted">{t("webhooks.log.noAttempts")}</p>
      ) : (
        <ol className="webhook-attempt-list">
          {delivery.attempts.map((item, index) => (
            <li key={`${item.at}-${index}`}>
              <p>
                {format(item.at)} · {t("webhooks.log.statusCode")}: {item.status_code ?? "—"} ·{" "}
                {t("webhooks.log.ms", { ms: item.latency_ms })}
              </p>
              {item.error && <p className="field-error">{item.error}</p>}
              {item.response_excerpt ? (
                <>
                  <p className="muted">{t("webhooks.log.excerpt")}</p>
                  <pre className="webhook-excerpt">{item.response_excerpt}</pre>
                </>
              ) : (
                <p className="muted">{t("webhooks.log.noExcerpt")}</p>
              )}
            </li>
          ))}
        </ol>
      )}
    </>
  );
}
