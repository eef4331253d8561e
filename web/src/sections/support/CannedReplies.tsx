// The support team's library of canned replies (staff only): list and search, create and edit
// (title and text in Spanish and English, with {{variables}}), delete after confirming.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useForm } from "react-hook-form";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";

import { api, ApiError, idempotencyKey, type Page } from "../../api/client";
import { apiQuery, invalidatePaths, usePagedQuery } from "../../api/queries";
import { useAuth } from "../../auth/AuthContext";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { HelpLink } from "../../components/HelpLink";
import { Empty, ErrorState, Loading } from "../../components/states";
import { ACCEPTED_TYPES, PendingFiles, useUploads } from "./Attachments";
import { REPLY_VARIABLES, type CannedReply, type CannedReplyIn } from "./types";

const PATH = "/support/canned-replies";
const TEXT_FIELDS = ["title.es", "title.en", "text.es", "text.en"] as const;
type TextField = (typeof TEXT_FIELDS)[number];

function StaffOnly({ children }: { children: React.ReactNode }) {
  const { t } = useTranslation("support");
  const { user } = useAuth();
  if (user?.role !== "staff") {
    return (
      <section className="support">
        <h1>{t("canned.manageTitle")}</h1>
        <Empty>{t("canned.staffOnly")}</Empty>
      </section>
    );
  }
  return <>{children}</>;
}

export function CannedReplyList() {
  return (
    <StaffOnly>
      <CannedReplyListPage />
    </StaffOnly>
  );
}

function CannedReplyListPage() {
  const { t, i18n } = useTranslation("support");
  const { t: common } = useTranslation();
  const [text, setText] = useState("");
  const [q, setQ] = useState("");
  const [deleting, setDeleting] = useState<CannedReply | null>(null);
  const language = i18n.language === "en" ? "en" : "es";
  const replies = usePagedQuery([PATH, { q, limit: 20 }], (cursor, signal) =>
    api<Page<CannedReply>>(PATH, { query: { q: q || undefined, limit: 20, cursor }, signal }),
  );
  const remove = useMutation({
    mutationFn: (reply: CannedReply) => api<void>(`${PATH}/${encodeURIComponent(reply.id)}`, { method: "DELETE" }),
    onSuccess: () => {
      setDeleting(null);
      void invalidatePaths(PATH);
    },
  });
  return (
    <section className="support support-canned">
      <header className="section-header">
        <h1>{t("canned.manageTitle")}</h1>
        <HelpLink section="support" />
      </header>
      <div className="toolbar" role="toolbar" aria-label={t("canned.toolbar")}>
        <Link to="/support" className="support-back">
          ← {t("thread.back")}
        </Link>
        <form
          role="search"
          className="support-search"
          onSubmit={(event) => {
            event.preventDefault();
            setQ(text.trim().length >= 2 ? text.trim() : "");
          }}
        >
          <label>
            <span className="visually-hidden">{t("canned.search")}</span>
            <input
              type="search"
              value={text}
              maxLength={100}
              placeholder={t("canned.searchPlaceholder")}
              onChange={(event) => setText(event.target.value)}
              onBlur={() => setQ(text.trim().length >= 2 ? text.trim() : "")}
            />
          </label>
        </form>
        <Link to="new" className="button-link primary-link">
          {t("canned.new")}
        </Link>
      </div>
      {replies.error && replies.items.length === 0 ? (
        <ErrorState error={replies.error} onRetry={replies.reload} />
      ) : replies.loading && replies.items.length === 0 ? (
        <Loading />
      ) : replies.items.length === 0 ? (
        <Empty>{q ? t("canned.noMatch") : t("canned.none")}</Empty>
      ) : (
        <ul className="list support-canned-list" aria-label={t("canned.results")}>
          {replies.items.map((reply) => (
            <li key={reply.id} className="support-canned-item">
              <strong>{reply.title[language] || reply.title.es}</strong>
              <p className="muted support-canned-text">{reply.text[language] || reply.text.es}</p>
              {reply.attachments.length > 0 && (
                <p className="muted">{t("canned.attachmentCount", { count: reply.attachments.length })}</p>
              )}
              <div className="support-instance-actions">
                <Link to={encodeURIComponent(reply.id)} aria-label={t("canned.editOf", { title: reply.title[language] })}>
                  {t("canned.edit")}
                </Link>
                <button
                  type="button"
                  onClick={() => setDeleting(reply)}
                  aria-label={t("canned.deleteOf", { title: reply.title[language] })}
                >
                  {t("canned.delete")}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {replies.hasMore && (
        <div className="actions">
          <button type="button" onClick={replies.loadMore} disabled={replies.loading}>
            {common("loadMore")}
          </button>
        </div>
      )}
      <ConfirmDialog
        open={deleting !== null}
        title={t("canned.deleteTitle")}
        confirmLabel={t("canned.delete")}
        danger
        busy={remove.isPending}
        onConfirm={() => deleting && remove.mutate(deleting)}
        onCancel={() => {
          setDeleting(null);
          remove.reset();
        }}
      >
        <p>{t("canned.deleteQuestion", { title: deleting ? deleting.title[language] : "" })}</p>
        {remove.error != null && (
          <p className="field-error" role="alert">
            {remove.error instanceof ApiError ? remove.error.readable : String(remove.error)}
          </p>
        )}
      </ConfirmDialog>
    </section>
  );
}

export function CannedReplyEdit() {
  return (
    <StaffOnly>
      <CannedReplyEditPage />
    </StaffOnly>
  );
}

function CannedReplyEditPage() {
  const { replyId } = useParams();
  const { t } = useTranslation("support");
  const existing = useQuery({
    ...apiQuery<CannedReply>(`${PATH}/${encodeURIComponent(replyId ?? "")}`),
    enabled: replyId !== undefined,
  });
  if (replyId !== undefined) {
    if (existing.error && !existing.data) return <ErrorState error={existing.error} onRetry={() => void existing.refetch()} />;
    if (!existing.data || existing.data.id !== replyId) return <Loading />;
  }
  return (
    <section className="support support-canned">
      <header className="section-header">
        <h1>{replyId ? t("canned.editTitle") : t("canned.newTitle")}</h1>
        <HelpLink section="support" />
      </header>
      <Link to="/support/canned-replies" className="support-back">
        ← {t("canned.manageTitle")}
      </Link>
      <CannedReplyForm reply={existing.data} />
    </section>
  );
}

type Values = CannedReplyIn;

function CannedReplyForm({ reply }: { reply?: CannedReply }) {
  const { t } = useTranslation("support");
  const { t: common } = useTranslation();
  const navigate = useNavigate();
  const key = useRef(idempotencyKey());
  const { register, handleSubmit } = useForm<Values>({
    defaultValues: {
      title: { es: reply?.title.es ?? "", en: reply?.title.en ?? "" },
      text: { es: reply?.text.es ?? "", en: reply?.text.en ?? "" },
    },
  });
  // The reply's files: those it has, and new ones uploaded for it (the library's own upload route).
  const uploads = useUploads(`${PATH}/attachments`);
  const fileInput = useRef<HTMLInputElement>(null);
  const seeded = useRef(false);
  const { addStored } = uploads;
  useEffect(() => {
    if (seeded.current || !reply) return;
    seeded.current = true;
    addStored(reply.attachments, false);
  }, [reply, addStored]);
  const save = useMutation({
    mutationFn: (values: Values) => {
      const attachmentIds = uploads.files.flatMap((file) => (file.state === "done" && file.attachment ? [file.attachment.id] : []));
      const body: CannedReplyIn = {
        title: { es: values.title.es.trim(), en: values.title.en.trim() },
        text: { es: values.text.es.trim(), en: values.text.en.trim() },
      };
      // PATCH names the new list (also when empty); POST only when there are files.
      if (reply || attachmentIds.length > 0) body.attachment_ids = attachmentIds;
      return reply
        ? api<CannedReply>(`${PATH}/${encodeURIComponent(reply.id)}`, { method: "PATCH", body })
        : api<CannedReply>(PATH, { method: "POST", body, headers: { "Idempotency-Key": key.current } });
    },
    onSuccess: () => {
      void invalidatePaths(PATH);
      navigate("/support/canned-replies");
    },
  });
  const error = save.error;
  const problemOf = (field: TextField) => (error instanceof ApiError ? error.fieldError(field) : undefined);
  const named = TEXT_FIELDS.some((field) => problemOf(field) !== undefined);
  return (
    <form
      className="card support-canned-form"
      aria-label={t("canned.formLabel")}
      noValidate
      onSubmit={(event) => void handleSubmit((values) => save.mutate(values))(event)}
    >
      {(["es", "en"] as const).map((language) => (
        <fieldset key={language}>
          <legend>{t(`canned.languages.${language}`)}</legend>
          <label>
            {t("canned.fieldTitle")}
            <input
              type="text"
              lang={language}
              required
              maxLength={200}
              aria-invalid={problemOf(`title.${language}`) ? true : undefined}
              {...register(`title.${language}`, { required: true })}
            />
            {problemOf(`title.${language}`) && <span className="field-error">{problemOf(`title.${language}`)}</span>}
          </label>
          <label>
            {t("canned.fieldText")}
            <textarea
              rows={6}
              lang={language}
              required
              maxLength={5000}
              aria-invalid={problemOf(`text.${language}`) ? true : undefined}
              aria-describedby="canned-variables"
              {...register(`text.${language}`, { required: true })}
            />
            {problemOf(`text.${language}`) && <span className="field-error">{problemOf(`text.${language}`)}</span>}
          </label>
        </fieldset>
      ))}
      <div id="canned-variables" className="muted canned-variables">
        {t("canned.variablesHelp")}{" "}
        {REPLY_VARIABLES.map((name, index) => (
          <span key={name}>
            {index > 0 && ", "}
            <code>{`{{${name}}}`}</code>
          </span>
        ))}
      </div>
      <h2 className="support-subtitle">{t("canned.attachments")}</h2>
      <PendingFiles uploads={uploads} readyLabel={t("canned.attachmentReady")} />
      <p className="visually-hidden" role="status" aria-live="polite">
        {uploads.announcement}
      </p>
      <input
        ref={fileInput}
        type="file"
        multiple
        accept={ACCEPTED_TYPES.join(",")}
        hidden
        onChange={(event) => {
          if (event.target.files) uploads.add(event.target.files);
          event.target.value = "";
        }}
      />
      <div className="support-composer-tools">
        <button type="button" onClick={() => fileInput.current?.click()} aria-describedby="canned-attach-hint">
          {t("attachments.attach")}
        </button>
        <span id="canned-attach-hint" className="visually-hidden">
          {t("canned.attachHint")}
        </span>
      </div>
      {error != null && !named && (
        <p className="field-error" role="alert">
          {error instanceof ApiError ? error.readable : error instanceof TypeError ? common("offline") : String(error)}
        </p>
      )}
      <div className="actions">
        <Link to="/support/canned-replies" className="button-link">
          {common("cancel")}
        </Link>
        <button type="submit" className="primary" disabled={save.isPending || uploads.busy}>
          {common("save")}
        </button>
      </div>
    </form>
  );
}
