// Canned replies in the composer (staff): search the shared library (a combobox over a listbox,
// arrows + Enter), preview the chosen reply filled with this thread's values in either language,
// see what could not be filled, and insert it (text and attachments) into the composer to edit.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";

import { api, ApiError, type Page } from "../../api/client";
import { apiQuery } from "../../api/queries";
import { ErrorState } from "../../components/states";
import {
  formatSize,
  type Attachment,
  type CannedReply,
  type CannedReplyPreview,
  type ReplyLanguage,
} from "./types";

const SEARCH_DELAY_MS = 250;

export interface InsertedReply {
  id: string;
  title: string;
  text: string;
  attachments: Attachment[];
}

function uiReplyLanguage(language: string): ReplyLanguage {
  return language === "en" ? "en" : "es";
}

export function CannedReplyPicker({ threadPath, onInsert }: { threadPath: string; onInsert(reply: InsertedReply): void }) {
  const { t } = useTranslation("support");
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const toggle = useRef<HTMLButtonElement>(null);
  return (
    <>
      <button
        ref={toggle}
        type="button"
        aria-expanded={open}
        aria-controls={open ? panelId : undefined}
        onClick={() => setOpen((now) => !now)}
      >
        {t("canned.open")}
      </button>
      {open && (
        <CannedReplyPanel
          id={panelId}
          threadPath={threadPath}
          onClose={() => {
            setOpen(false);
            toggle.current?.focus();
          }}
          onInsert={(reply) => {
            setOpen(false);
            onInsert(reply);
          }}
        />
      )}
    </>
  );
}

function CannedReplyPanel(props: {
  id: string;
  threadPath: string;
  onClose(): void;
  onInsert(reply: InsertedReply): void;
}) {
  const { t, i18n } = useTranslation("support");
  const [text, setText] = useState("");
  const [q, setQ] = useState("");
  const [active, setActive] = useState(0);
  const [chosen, setChosen] = useState<CannedReply | null>(null);
  const listId = useId();
  const titleId = useId();
  const search = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const timer = setTimeout(() => setQ(text.trim()), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text]);
  useEffect(() => search.current?.focus(), []);

  // The service searches words of two characters or more (a shorter q is a 422): until then, the whole library.
  const words = q.length >= 2 ? q : undefined;
  const replies = useQuery(apiQuery<Page<CannedReply>>("/support/canned-replies", { q: words, limit: 20 }));
  const items = replies.data?.items ?? [];
  const activeIndex = Math.min(active, Math.max(items.length - 1, 0));
  const language = uiReplyLanguage(i18n.language);
  const optionId = (index: number) => `${listId}-option-${index}`;

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (items.length === 0) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive((activeIndex + step + items.length) % items.length);
    } else if (event.key === "Home" && items.length > 0) {
      event.preventDefault();
      setActive(0);
    } else if (event.key === "End" && items.length > 0) {
      event.preventDefault();
      setActive(items.length - 1);
    } else if (event.key === "Enter") {
      event.preventDefault(); // never submits the composer
      if (items[activeIndex]) setChosen(items[activeIndex]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      props.onClose();
    }
  }

  return (
    <section id={props.id} className="canned-panel" aria-labelledby={titleId}>
      <div className="canned-panel-header">
        <h3 id={titleId}>{t("canned.title")}</h3>
        <button type="button" onClick={props.onClose}>
          {t("common:close")}
        </button>
      </div>
      <label>
        {t("canned.search")}
        <input
          ref={search}
          type="search"
          role="combobox"
          value={text}
          maxLength={100}
          placeholder={t("canned.searchPlaceholder")}
          aria-autocomplete="list"
          aria-expanded={items.length > 0}
          aria-controls={listId}
          aria-activedescendant={items.length > 0 ? optionId(activeIndex) : undefined}
          onChange={(event) => {
            setText(event.target.value);
            setActive(0);
          }}
          onKeyDown={onKeyDown}
        />
      </label>
      {replies.error ? (
        <ErrorState error={replies.error} onRetry={() => void replies.refetch()} />
      ) : (
        <>
          <ul
            id={listId}
            role="listbox"
            className="canned-options"
            aria-label={t("canned.results")}
            hidden={items.length === 0}
          >
            {items.map((reply, index) => (
              <li
                key={reply.id}
                id={optionId(index)}
                role="option"
                aria-selected={index === activeIndex}
                className={`${index === activeIndex ? "active" : ""}${chosen?.id === reply.id ? " chosen" : ""}`}
                onMouseDown={(event) => event.preventDefault()} // keeps the focus in the search box
                onClick={() => {
                  setActive(index);
                  setChosen(reply);
                }}
              >
                <strong>{reply.title[language] || reply.title.es}</strong>
                <span className="muted canned-option-text">{reply.text[language] || reply.text.es}</span>
              </li>
            ))}
          </ul>
          <p className="muted" role="status" aria-live="polite">
            {replies.isFetching
              ? t("common:loading")
              : items.length === 0
                ? words
                  ? t("canned.noMatch")
                  : t("canned.none")
                : t("canned.count", { count: items.length })}
          </p>
        </>
      )}
      {chosen && (
        <CannedReplyPreviewPanel
          key={chosen.id}
          threadPath={props.threadPath}
          reply={chosen}
          onInsert={props.onInsert}
        />
      )}
    </section>
  );
}

function CannedReplyPreviewPanel(props: { threadPath: string; reply: CannedReply; onInsert(reply: InsertedReply): void }) {
  const { t, i18n } = useTranslation("support");
  // No language at first: the service chooses that of the partner's user who last wrote (else Spanish) and says
  // why (`language_basis`); the switch then names one.
  const [language, setLanguage] = useState<ReplyLanguage | undefined>(undefined);
  const path = `${props.threadPath}/canned-replies/${encodeURIComponent(props.reply.id)}/preview`;
  const preview = useQuery({
    queryKey: [path, { language: language ?? null }],
    queryFn: ({ signal }) =>
      api<CannedReplyPreview>(path, { method: "POST", body: language ? { language } : {}, signal }),
    placeholderData: (previous) => previous,
  });
  const data = preview.data;
  const shown = language ?? data?.language;
  const headingId = useId();
  return (
    <section className="canned-preview" aria-labelledby={headingId} aria-busy={preview.isFetching}>
      <h4 id={headingId}>{t("canned.preview")}</h4>
      <fieldset className="canned-language">
        <legend>{t("canned.language")}</legend>
        {(["es", "en"] as const).map((option) => (
          <label key={option} className="inline">
            <input
              type="radio"
              name={`canned-language-${props.reply.id}`}
              value={option}
              checked={shown === option}
              onChange={() => setLanguage(option)}
            />
            {t(`canned.languages.${option}`)}
          </label>
        ))}
      </fieldset>
      {preview.error ? (
        <ErrorState error={preview.error} onRetry={() => void preview.refetch()} />
      ) : !data ? (
        <p role="status">{t("common:loading")}</p>
      ) : (
        <div aria-live="polite" data-testid="canned-preview">
          <p className="muted" data-testid="canned-preview-language">
            {t(`canned.languageBasis.${data.language_basis}`, {
              language: t(`canned.languages.${data.language}`),
            })}
          </p>
          <p className="canned-preview-title">
            <strong lang={data.language}>{data.title}</strong>
          </p>
          <p className="canned-preview-text" lang={data.language}>
            {data.text}
          </p>
          {data.unknown_variables.length > 0 && (
            <p className="notice notice-warning" role="status">
              {t("canned.unknownVariables", { names: data.unknown_variables.map((name) => `{{${name}}}`).join(", ") })}
            </p>
          )}
          {data.missing_values.length > 0 && (
            <p className="notice notice-warning" role="status">
              {t("canned.missingValues", { names: data.missing_values.map((name) => `{{${name}}}`).join(", ") })}
            </p>
          )}
          {data.attachments.length > 0 && (
            <ul className="canned-preview-files" aria-label={t("canned.attachments")}>
              {data.attachments.map((attachment) => (
                <li key={attachment.id}>
                  <span className="attachment-name">{attachment.filename}</span>{" "}
                  <span className="attachment-size">{formatSize(attachment.size, i18n.language)}</span>
                </li>
              ))}
            </ul>
          )}
          <div className="actions">
            <button
              type="button"
              className="primary"
              disabled={preview.isFetching}
              onClick={() =>
                props.onInsert({ id: props.reply.id, title: data.title, text: data.text, attachments: data.attachments })
              }
            >
              {t("canned.insert")}
            </button>
          </div>
        </div>
      )}
      {preview.error instanceof ApiError && preview.error.status === 403 && (
        <p className="muted">{t("canned.staffOnly")}</p>
      )}
    </section>
  );
}
