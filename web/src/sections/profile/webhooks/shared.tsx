// Parts the Integrations pages share: the catalogue and the partner's instances, the status badge,
// the one-time secret panel, the event types' checkbox group and the problems of a field.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError, type Page } from "../../../api/client";
import { apiQuery } from "../../../api/queries";
import type { Schema } from "../../../api/types";
import { TEST_EVENT_TYPE, type EventType, type EventTypeList, type Subscription } from "./types";

type Instance = Schema<"instances__InstanceOut">;

export const WEBHOOKS = "/webhooks";

export function useEventTypes() {
  return useQuery({ ...apiQuery<EventTypeList>(`${WEBHOOKS}/event-types`), staleTime: 10 * 60_000 });
}

/** The acting partner's instances, for the optional instance filter (the first 100, by name). */
export function useInstances() {
  return useQuery({ ...apiQuery<Page<Instance>>("/instances", { limit: 100 }), staleTime: 60_000 });
}

/** "instance.provisioned" → "instance": the family a checkbox group gathers. */
export function familyOf(type: string): string {
  const dot = type.indexOf(".");
  return dot > 0 ? type.slice(0, dot) : type;
}

/** The catalogue's subscribable types by family, in the catalogue's order (the test event is sent on demand). */
export function groupByFamily(items: EventType[]): [string, EventType[]][] {
  const groups = new Map<string, EventType[]>();
  for (const item of items) {
    if (item.type === TEST_EVENT_TYPE) continue;
    const family = familyOf(item.type);
    groups.set(family, [...(groups.get(family) ?? []), item]);
  }
  return [...groups.entries()];
}

/** Whether a problem's field name (e.g. `url`, `body.url`, `event_types.0`) is `field`. */
function names(name: string, field: string): boolean {
  return name === field || name.endsWith(`.${field}`) || name.startsWith(`${field}.`) || name.includes(`.${field}.`);
}

/** The message of a problem+json error naming `field`. */
export function problemAt(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  return error.problem.errors?.find((e) => names(e.field, field))?.message;
}

/** What to say at form level: the problem, unless every error it names shows at one of `fields`. */
export function formProblem(error: unknown, fields: string[], offline: string): string | undefined {
  if (!error) return undefined;
  if (error instanceof ApiError) {
    const named = error.problem.errors ?? [];
    if (named.length > 0 && named.every((e) => fields.some((field) => names(e.field, field)))) return undefined;
    return error.readable;
  }
  return error instanceof TypeError ? offline : String(error);
}

export function useFormatDateTime(): (value: string | null | undefined) => string {
  const { i18n } = useTranslation();
  const locale = i18n.language === "en" ? "en-GB" : "es-ES";
  const formatter = new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "medium" });
  return (value) => (value ? formatter.format(new Date(value)) : "—");
}

export function StatusBadge({ subscription }: { subscription: Pick<Subscription, "status"> }) {
  const { t } = useTranslation("profile");
  return (
    <span className={`badge webhook-status-${subscription.status}`} data-testid="webhook-status">
      {t(`webhooks.status.${subscription.status}`)}
    </span>
  );
}

type Paused = Pick<Subscription, "paused_reason" | "consecutive_failures">;

/** Why a subscription was paused for failures: the gateway's reason, or the count of failures. */
export function PausedReason({ subscription }: { subscription: Paused }) {
  const { t } = useTranslation("profile");
  return <>{subscription.paused_reason ?? t("webhooks.failingReason", { count: subscription.consecutive_failures })}</>;
}

/** A signing secret, shown this once: copy it (or select it) now; gone when dismissed or left. */
export function SecretPanel(props: { secret: string; title: string; expiresNote?: string; onDismiss(): void }) {
  const { t } = useTranslation("profile");
  const heading = useRef<HTMLHeadingElement>(null);
  const id = useId();
  const [copied, setCopied] = useState<"" | "done" | "failed">("");
  useEffect(() => heading.current?.focus(), []); // shown after a form: the keyboard user lands on it

  async function copy() {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied("done");
    } catch {
      setCopied("failed");
    }
  }

  return (
    <section className="card webhook-secret" aria-labelledby={`${id}-title`} data-testid="webhook-secret">
      <h2 id={`${id}-title`} ref={heading} tabIndex={-1}>
        {props.title}
      </h2>
      <p className="notice notice-warning">{t("webhooks.secret.once")}</p>
      <label>
        {t("webhooks.secret.label")}
        <input
          readOnly
          value={props.secret}
          className="webhook-secret-value"
          spellCheck={false}
          onFocus={(event) => event.target.select()}
          aria-describedby={`${id}-hint`}
        />
      </label>
      <p className="muted" id={`${id}-hint`}>
        {t("webhooks.secret.hint")}
      </p>
      {props.expiresNote && <p className="muted">{props.expiresNote}</p>}
      <p role="status" aria-live="polite" className="webhook-live">
        {copied === "done" ? t("webhooks.secret.copied") : copied === "failed" ? t("webhooks.secret.copyFailed") : ""}
      </p>
      <div className="actions">
        <button type="button" onClick={() => void copy()}>
          {t("webhooks.secret.copy")}
        </button>
        <button type="button" className="primary" onClick={props.onDismiss}>
          {t("webhooks.secret.dismiss")}
        </button>
      </div>
    </section>
  );
}

/** The event types as checkboxes grouped by family (a fieldset each), with the catalogue's descriptions. */
export function EventTypeGroups(props: {
  items: EventType[];
  selected: string[];
  onChange(next: string[]): void;
  error?: string;
  errorId: string;
}) {
  const { t } = useTranslation("profile");
  const toggle = (type: string, on: boolean) =>
    props.onChange(on ? [...props.selected, type] : props.selected.filter((value) => value !== type));
  return (
    <fieldset
      className="webhook-event-types"
      aria-invalid={props.error ? true : undefined}
      aria-describedby={props.error ? props.errorId : undefined}
    >
      <legend>{t("webhooks.form.eventTypes")}</legend>
      {groupByFamily(props.items).map(([family, types]) => {
        const all = types.every((item) => props.selected.includes(item.type));
        return (
          <fieldset key={family} className="webhook-family">
            <legend>{t(`webhooks.families.${family}`, { defaultValue: family })}</legend>
            <label className="webhook-check webhook-check-all">
              <input
                type="checkbox"
                checked={all}
                onChange={(event) => {
                  const others = props.selected.filter((value) => familyOf(value) !== family);
                  props.onChange(event.target.checked ? [...others, ...types.map((item) => item.type)] : others);
                }}
              />
              {t("webhooks.form.allOfFamily")}
            </label>
            {types.map((item) => (
              <label key={item.type} className="webhook-check">
                <input
                  type="checkbox"
                  value={item.type}
                  checked={props.selected.includes(item.type)}
                  onChange={(event) => toggle(item.type, event.target.checked)}
                />
                <span>
                  <code>{item.type}</code>
                  {item.description && <span className="muted webhook-check-description">{item.description}</span>}
                </span>
              </label>
            ))}
          </fieldset>
        );
      })}
      {props.error && (
        <p className="field-error" id={props.errorId}>
          {props.error}
        </p>
      )}
    </fieldset>
  );
}
