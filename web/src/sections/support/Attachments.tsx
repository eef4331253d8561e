// Attachments (issue #21): a message's images (thumbnails, the full image in a dialog) and PDFs
// (a download chip), and the composer's uploads (one request per file, with its progress).
import { useQuery } from "@tanstack/react-query";
import { useCallback, useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError, send } from "../../api/client";
import { uploadFile, UploadAborted } from "../../api/upload";
import { formatSize, type Attachment } from "./types";

/** As the support service's default limit (a setting there; it answers 413 beyond its own). */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;
export const MAX_FILES = 10;
export const ACCEPTED_TYPES = ["image/jpeg", "image/png", "image/webp", "application/pdf"];

function attachmentPath(threadPath: string, attachment: Attachment, thumbnail = false): string {
  return `${threadPath}/attachments/${encodeURIComponent(attachment.id)}${thumbnail ? "/thumbnail" : ""}`;
}

/** The bytes of an authenticated file (the API needs the bearer token: no plain <img src>), cached
 * for good (an attachment never changes) under a key of their own, so notifications leave them be. */
function useBlob(path: string, enabled = true) {
  return useQuery({
    queryKey: ["blob", path],
    queryFn: async ({ signal }) => (await send(path, { headers: { Accept: "*/*" }, signal })).blob(),
    staleTime: Infinity,
    gcTime: 5 * 60_000,
    enabled,
  });
}

/** An object URL for a blob while the component shows it; revoked when it goes or the blob changes. */
function useObjectUrl(blob: Blob | undefined): string | undefined {
  const [objectUrl, setObjectUrl] = useState<string>();
  useEffect(() => {
    if (!blob) return;
    const created = URL.createObjectURL(blob);
    setObjectUrl(created);
    return () => {
      URL.revokeObjectURL(created);
      setObjectUrl(undefined);
    };
  }, [blob]);
  return objectUrl;
}

function saveBlob(blob: Blob, name: string) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** The attachments of a message (or of a canned reply's preview). */
export function AttachmentList({ threadPath, attachments }: { threadPath: string; attachments: Attachment[] }) {
  const { t } = useTranslation("support");
  if (attachments.length === 0) return null;
  return (
    <ul className="attachments" aria-label={t("attachments.listLabel", { count: attachments.length })}>
      {attachments.map((attachment) => (
        <li key={attachment.id}>
          {attachment.has_thumbnail ? (
            <ImageAttachment threadPath={threadPath} attachment={attachment} />
          ) : (
            <FileChip threadPath={threadPath} attachment={attachment} />
          )}
        </li>
      ))}
    </ul>
  );
}

function ImageAttachment({ threadPath, attachment }: { threadPath: string; attachment: Attachment }) {
  const { t } = useTranslation("support");
  const thumbnail = useBlob(attachmentPath(threadPath, attachment, true));
  const src = useObjectUrl(thumbnail.data);
  const [open, setOpen] = useState(false);
  return (
    <>
      <button
        type="button"
        className="attachment-thumb"
        onClick={() => setOpen(true)}
        aria-label={t("attachments.openImage", { name: attachment.filename })}
        data-testid="attachment-thumbnail"
      >
        {src ? (
          <img src={src} alt="" width={attachment.width ?? undefined} height={attachment.height ?? undefined} />
        ) : (
          <span className="attachment-thumb-placeholder" aria-hidden="true">
            {thumbnail.isError ? "!" : "…"}
          </span>
        )}
      </button>
      {open && <ImageDialog threadPath={threadPath} attachment={attachment} onClose={() => setOpen(false)} />}
    </>
  );
}

/** The full image in a modal dialog (Escape or Close closes it), with a download button. */
function ImageDialog(props: { threadPath: string; attachment: Attachment; onClose(): void }) {
  const { t, i18n } = useTranslation("support");
  const { t: common } = useTranslation();
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const full = useBlob(attachmentPath(props.threadPath, props.attachment));
  const src = useObjectUrl(full.data);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);
  return (
    <dialog ref={dialog} className="dialog attachment-dialog" aria-labelledby={titleId} onCancel={props.onClose}>
      <h2 id={titleId} className="attachment-dialog-title">
        {props.attachment.filename}
      </h2>
      <p className="muted">{formatSize(props.attachment.size, i18n.language)}</p>
      {src ? (
        <img className="attachment-full" src={src} alt={props.attachment.filename} />
      ) : full.isError ? (
        <p className="field-error" role="alert">
          {full.error instanceof ApiError ? full.error.readable : t("attachments.loadFailed")}
        </p>
      ) : (
        <p role="status">{common("loading")}</p>
      )}
      <div className="actions">
        <button type="button" disabled={!full.data} onClick={() => full.data && saveBlob(full.data, props.attachment.filename)}>
          {t("attachments.download")}
        </button>
        <button type="button" className="primary" onClick={props.onClose}>
          {common("close")}
        </button>
      </div>
    </dialog>
  );
}

/** A PDF (or any file without a thumbnail): its name and size; pressing it downloads it. */
function FileChip({ threadPath, attachment }: { threadPath: string; attachment: Attachment }) {
  const { t, i18n } = useTranslation("support");
  const [state, setState] = useState<"idle" | "busy" | "failed">("idle");
  async function save() {
    setState("busy");
    try {
      const response = await send(attachmentPath(threadPath, attachment), { headers: { Accept: "*/*" } });
      saveBlob(await response.blob(), attachment.filename);
      setState("idle");
    } catch {
      setState("failed");
    }
  }
  const size = formatSize(attachment.size, i18n.language);
  return (
    <>
      <button
        type="button"
        className="attachment-chip"
        onClick={() => void save()}
        disabled={state === "busy"}
      >
        <span aria-hidden="true" className="attachment-icon">
          PDF
        </span>
        <span className="visually-hidden">{t("attachments.download")} </span>
        <span className="attachment-name">{attachment.filename}</span>
        <span className="attachment-size">{size}</span>
      </button>
      {state === "failed" && (
        <span className="field-error" role="alert">
          {t("attachments.downloadFailed")}
        </span>
      )}
    </>
  );
}

// ---- The composer's uploads ----

export interface PendingFile {
  key: string;
  name: string;
  size: number;
  /** 0..1 while uploading. */
  progress: number;
  state: "uploading" | "done" | "failed";
  attachment?: Attachment;
  error?: string;
  /** From a canned reply: already stored, sent through `canned_reply_id`. */
  fromReply?: boolean;
}

export interface Uploads {
  files: PendingFile[];
  busy: boolean;
  add(files: Iterable<File>): void;
  addStored(attachments: Attachment[], fromReply: boolean): void;
  remove(key: string): void;
  clear(): void;
  /** What the composer announces (aria-live) as files go up. */
  announcement: string;
}

/** Each file goes up (POST `uploadPath`) in its own request as soon as it is chosen; the message
 * (or the canned reply) then names the stored ones. */
export function useUploads(uploadPath: string): Uploads {
  const { t } = useTranslation("support");
  const [files, setFiles] = useState<PendingFile[]>([]);
  const [announcement, setAnnouncement] = useState("");
  const controllers = useRef(new Map<string, AbortController>());
  const count = useRef(0);

  const update = useCallback((key: string, change: Partial<PendingFile>) => {
    setFiles((current) => current.map((file) => (file.key === key ? { ...file, ...change } : file)));
  }, []);

  const upload = useCallback(
    async (key: string, file: File) => {
      const controller = new AbortController();
      controllers.current.set(key, controller);
      try {
        const attachment = await uploadFile<Attachment>(uploadPath, file, {
          signal: controller.signal,
          onProgress: (progress) => update(key, { progress }),
        });
        update(key, { state: "done", progress: 1, attachment });
        setAnnouncement(t("attachments.uploaded", { name: file.name }));
      } catch (failure) {
        if (failure instanceof UploadAborted) return;
        const error =
          failure instanceof ApiError
            ? (failure.fieldError("file") ?? failure.readable)
            : failure instanceof TypeError
              ? t("common:offline")
              : String(failure);
        update(key, { state: "failed", error });
        setAnnouncement(t("attachments.failed", { name: file.name }));
      } finally {
        controllers.current.delete(key);
      }
    },
    [uploadPath, t, update],
  );

  // What is chosen now counts against what is already there (a ref: the decision must not run in a state updater).
  const current = useRef<PendingFile[]>([]);
  useEffect(() => {
    current.current = files;
  }, [files]);

  const add = useCallback(
    (chosen: Iterable<File>) => {
      let room = MAX_FILES - current.current.filter((file) => file.state !== "failed").length;
      const entries: PendingFile[] = [];
      const started: [string, File][] = [];
      for (const file of chosen) {
        count.current += 1;
        const key = `file-${count.current}`;
        const base = { key, name: file.name || t("attachments.unnamed"), size: file.size, progress: 0 };
        if (room <= 0) {
          entries.push({ ...base, state: "failed", error: t("attachments.tooMany", { max: MAX_FILES }) });
        } else if (file.size > MAX_FILE_BYTES) {
          entries.push({ ...base, state: "failed", error: t("attachments.tooBig", { max: "10 MB" }) });
        } else {
          room -= 1;
          entries.push({ ...base, state: "uploading" });
          started.push([key, file]);
        }
      }
      current.current = [...current.current, ...entries];
      setFiles((existing) => [...existing, ...entries]);
      for (const [key, file] of started) void upload(key, file);
    },
    [t, upload],
  );

  const addStored = useCallback((attachments: Attachment[], fromReply: boolean) => {
    setFiles((current) => [
      ...current.filter((file) => !(fromReply && file.fromReply)),
      ...attachments.map((attachment) => ({
        key: `stored-${attachment.id}`,
        name: attachment.filename,
        size: attachment.size,
        progress: 1,
        state: "done" as const,
        attachment,
        fromReply,
      })),
    ]);
  }, []);

  const remove = useCallback((key: string) => {
    controllers.current.get(key)?.abort();
    setFiles((current) => current.filter((file) => file.key !== key));
  }, []);

  const clear = useCallback(() => setFiles([]), []);

  useEffect(() => {
    const running = controllers.current;
    return () => running.forEach((controller) => controller.abort());
  }, []);

  return { files, busy: files.some((file) => file.state === "uploading"), add, addStored, remove, clear, announcement };
}

/** The files chosen for the next message: name, size, progress or problem, and a remove button. */
export function PendingFiles({ uploads, readyLabel }: { uploads: Uploads; readyLabel?: string }) {
  const { t, i18n } = useTranslation("support");
  if (uploads.files.length === 0) return null;
  return (
    <ul className="pending-files" aria-label={t("attachments.pending")}>
      {uploads.files.map((file) => {
        const size = formatSize(file.size, i18n.language);
        return (
          <li key={file.key} className={`pending-file ${file.state}`} data-testid="pending-file">
            <span className="pending-file-line">
              <span className="attachment-name">{file.name}</span>
              <span className="attachment-size">{size}</span>
              {!file.fromReply && ( // a canned reply's files go (all together) with the reply: see the composer
                <button
                  type="button"
                  className="pending-file-remove"
                  onClick={() => uploads.remove(file.key)}
                  aria-label={t("attachments.remove", { name: file.name })}
                >
                  ×
                </button>
              )}
            </span>
            {file.state === "uploading" && (
              <progress
                max={1}
                value={file.progress}
                aria-label={t("attachments.progress", { name: file.name })}
              />
            )}
            {file.state === "done" && (
              <span className="muted">{file.fromReply ? t("attachments.fromReply") : (readyLabel ?? t("attachments.ready"))}</span>
            )}
            {file.state === "failed" && <span className="field-error">{file.error}</span>}
          </li>
        );
      })}
    </ul>
  );
}
