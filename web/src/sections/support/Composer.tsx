// The thread's composer: the text, its files (chosen, taken with the camera, dropped or pasted; each
// uploaded with its progress), and for staff the canned replies; Ctrl/⌘+Enter or Send posts it once.
import { useRef, useState, type ClipboardEvent, type DragEvent, type FormEvent, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";

import { api, ApiError, idempotencyKey } from "../../api/client";
import { useMediaQuery } from "../../components/hooks";
import { ACCEPTED_TYPES, PendingFiles, useUploads } from "./Attachments";
import { CannedReplyPicker, type InsertedReply } from "./CannedReplyPicker";
import type { Message, MessageIn } from "./types";

const MAX_BODY_CHARS = 5000;
// Apple keyboards send with ⌘ (metaKey), which the composer accepts too.
const APPLE = /Mac|iPhone|iPad/.test(navigator.userAgent);

export function Composer({ path, staff, onSent }: { path: string; staff: boolean; onSent(message: Message): void }) {
  const { t } = useTranslation("support");
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [dragging, setDragging] = useState(false);
  const [reply, setReply] = useState<{ id: string; title: string } | null>(null);
  const uploads = useUploads(`${path}/attachments`);
  const textarea = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const cameraInput = useRef<HTMLInputElement>(null);
  // One key per message: a retry after a failure posts it once; changing the message makes a new one.
  const key = useRef<string | null>(null);

  const stored = uploads.files.filter((file) => file.state === "done" && file.attachment);
  const attachmentIds = stored.filter((file) => !file.fromReply).map((file) => file.attachment!.id);
  const replyAttachments = stored.filter((file) => file.fromReply);
  const body = text.trim();
  // A message may be only files (or a canned reply's); never nothing.
  const canSend = !sending && !uploads.busy && (body !== "" || stored.length > 0 || reply !== null);

  function changed() {
    key.current = null;
    if (error) setError(undefined);
  }

  async function send(event?: FormEvent) {
    event?.preventDefault();
    if (!canSend) return;
    key.current ??= idempotencyKey();
    setSending(true);
    setError(undefined);
    const message: MessageIn = { body };
    if (attachmentIds.length > 0) message.attachment_ids = attachmentIds;
    if (reply) message.canned_reply_id = reply.id;
    try {
      const posted = await api<Message>(`${path}/messages`, {
        method: "POST",
        body: message,
        headers: { "Idempotency-Key": key.current },
      });
      key.current = null;
      setText("");
      setReply(null);
      uploads.clear();
      onSent(posted);
    } catch (failure) {
      setError(failure);
    } finally {
      setSending(false);
    }
  }

  function addFiles(files: FileList | File[] | null | undefined) {
    if (!files || files.length === 0) return;
    uploads.add(files);
    changed();
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) void send();
  }

  function onPaste(event: ClipboardEvent<HTMLTextAreaElement>) {
    const files = [...event.clipboardData.files];
    if (files.length > 0) {
      event.preventDefault(); // a pasted screenshot becomes an attachment, not text
      addFiles(files);
    }
  }

  function onDrop(event: DragEvent<HTMLFormElement>) {
    event.preventDefault();
    setDragging(false);
    addFiles(event.dataTransfer.files);
  }

  function insert(inserted: InsertedReply) {
    setText((current) => (current.trim() ? `${current.trimEnd()}\n\n${inserted.text}` : inserted.text));
    setReply({ id: inserted.id, title: inserted.title });
    uploads.addStored(inserted.attachments, true);
    changed();
    textarea.current?.focus();
  }

  // Ctrl/⌘+Enter means nothing on a touch screen: the hint shows (and describes the field) only with a fine pointer.
  const keyboardHint = useMediaQuery("(hover: hover) and (pointer: fine)");
  // The camera button is for phones and tablets (a coarse pointer); elsewhere "Attach" is the way.
  const touch = useMediaQuery("(pointer: coarse)");
  const fieldError =
    error instanceof ApiError ? (error.fieldError("body") ?? error.fieldError("attachment_ids")) : undefined;
  const generalError =
    error === undefined || fieldError
      ? undefined
      : error instanceof ApiError
        ? `${error.readable} — ${t("thread.sendFailed")}`
        : t("thread.sendFailed");
  return (
    <form
      className={`card support-composer${dragging ? " dragging" : ""}`}
      onSubmit={(event) => void send(event)}
      onDragOver={(event) => {
        if (!event.dataTransfer.types.includes("Files")) return;
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <label>
        {t("thread.message")}
        <textarea
          ref={textarea}
          value={text}
          rows={3}
          maxLength={MAX_BODY_CHARS}
          placeholder={t("thread.placeholder")}
          aria-invalid={fieldError ? true : undefined}
          aria-describedby={keyboardHint ? "support-composer-hint" : undefined}
          onChange={(event) => {
            setText(event.target.value);
            changed();
          }}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
        />
      </label>
      {dragging && (
        <p className="support-drop-hint" aria-hidden="true">
          {t("attachments.dropHere")}
        </p>
      )}
      {reply && (
        <p className="support-reply-used muted">
          {t("canned.used", { title: reply.title })}{" "}
          {replyAttachments.length > 0 && (
            <button
              type="button"
              className="link-button"
              onClick={() => {
                setReply(null);
                replyAttachments.forEach((file) => uploads.remove(file.key));
                changed();
              }}
            >
              {t("canned.unlink")}
            </button>
          )}
        </p>
      )}
      <PendingFiles uploads={uploads} />
      <p className="visually-hidden" role="status" aria-live="polite">
        {uploads.announcement}
      </p>
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
      <input
        ref={fileInput}
        type="file"
        multiple
        accept={ACCEPTED_TYPES.join(",")}
        hidden
        onChange={(event) => {
          addFiles(event.target.files);
          event.target.value = ""; // the same file may be chosen again after removing it
        }}
        data-testid="attach-input"
      />
      <input
        ref={cameraInput}
        type="file"
        accept="image/*"
        capture="environment"
        hidden
        onChange={(event) => {
          addFiles(event.target.files);
          event.target.value = "";
        }}
      />
      <div className="support-composer-tools">
        <button type="button" onClick={() => fileInput.current?.click()} aria-describedby="support-attach-hint">
          {t("attachments.attach")}
        </button>
        {touch && (
          <button type="button" onClick={() => cameraInput.current?.click()}>
            {t("attachments.camera")}
          </button>
        )}
        {staff && <CannedReplyPicker threadPath={path} onInsert={insert} />}
        <span id="support-attach-hint" className="visually-hidden">
          {t("attachments.hint")}
        </span>
      </div>
      <div className="support-composer-actions">
        {keyboardHint && (
          <span id="support-composer-hint" className="muted">
            {t(APPLE ? "thread.sendHintMac" : "thread.sendHint")}
          </span>
        )}
        <button type="submit" className="primary" disabled={!canSend}>
          {sending ? t("thread.sending") : t("thread.send")}
        </button>
      </div>
    </form>
  );
}
