// The shapes of the public API this section reads: aliases of the generated schemas (support__...),
// and the composed thread view of the gateway (its document does not describe that response).
import type { Schema } from "../../api/types";
import i18n from "i18next";

export type Side = Schema<"support__Side">;
export type Direction = Schema<"support__Direction">;

export type Thread = Schema<"support__ThreadOut">;

/** An uploaded file: an image (JPEG, PNG, WebP; thumbnail when `has_thumbnail`) or a PDF. */
export type Attachment = Schema<"support__AttachmentOut">;

/** `read_by_other_side_at`: a partner-side message: when support read it; a support message: when the partner read it. */
export type Message = Schema<"support__MessageOut">;

/** POST /threads/{id}/messages */
export type MessageIn = Schema<"support__MessageIn">;

export type ReplyLanguage = "es" | "en";
export type Localized = Record<ReplyLanguage, string>;

/** A saved reply of the support team (staff only). */
export type CannedReply = Schema<"support__CannedReplyOut">;

/** POST /support/canned-replies (all of it). */
export type CannedReplyIn = Schema<"support__CannedReplyIn">;

/** PATCH /support/canned-replies/{id} (any part). */
export type CannedReplyPatch = Schema<"support__CannedReplyPatch">;

/** POST /threads/{id}/canned-replies/{canned_reply_id}/preview: the reply filled with the thread's values. */
export type CannedReplyPreview = Schema<"support__PreviewOut">;

/** GET /support/search: one matching message; `highlights` are [start, end) offsets into `snippet`.
 * `author_name`: the author's display name when they wrote it (empty on notes and older messages). */
export type SearchHit = Schema<"support__SearchHitOut">;

/** The variables a canned reply may name (filled from the thread's context). */
export const REPLY_VARIABLES = [
  "company.name",
  "company.tax_id",
  "instance.name",
  "instance.type",
  "instance.expiry_date",
  "license.user",
  "partner.name",
  "partner.contact",
  "agent.name",
] as const;

/** The id of a message's element in the thread (search results jump to it). */
export function messageElementId(messageId: string): string {
  return `message-${messageId}`;
}

/** A file size in the UI's language, e.g. "2,4 MB". */
export function formatSize(bytes: number, language: string): string {
  const locale = language === "en" ? "en-GB" : "es-ES";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(value)} ${units[unit]}`;
}

/** A system note as a code and its values: the app words it in the UI's language. */
export type Note = Schema<"support__NoteOut">;

export interface Company {
  id: string;
  name: string;
  tax_id: string;
  address: Record<string, string>;
  contact_person: string;
  email: string;
  phone: string;
}

export interface Instance {
  id: string;
  company_id: string;
  type: "WDS" | "MCRM" | "S360" | "WTA";
  name: string;
  stage: string;
  status: string | null;
  profile: string | null;
  licenses: { quota: number; in_use: number; active: number; released: number; revoked: number };
}

export interface ThreadView {
  thread: Thread;
  company: Company | null;
  instances: { items: Instance[]; next_cursor: string | null } | null;
  degraded: { part: string; service: string; reason: string }[];
}

/** Local date/time: only the time for today; before, the day (and with `full` its time too). */
export function formatWhen(iso: string, language: string, full = false): string {
  const when = new Date(iso);
  const today = new Date();
  const sameDay = when.toDateString() === today.toDateString();
  const time: Intl.DateTimeFormatOptions = { hour: "2-digit", minute: "2-digit" };
  const day: Intl.DateTimeFormatOptions = { day: "2-digit", month: "short" };
  const options = sameDay ? time : full ? { ...day, ...time } : day;
  return new Intl.DateTimeFormat(language === "en" ? "en-GB" : "es-ES", options).format(when);
}

const PREVIEW_CHARS = 140; // as the support service cuts its previews

/** A system note in the UI's language when the app knows its code; otherwise the API's text
 * (a note stored before notes had codes, or a code newer than this app). */
export function noteText(note: Note | null | undefined, fallback: string): string {
  const key = note ? `support:notes.${note.code}` : "";
  // `replace`: the note's values are values only, never options of the translation.
  return note && i18n.exists(key) ? i18n.t(key, { replace: note.params }) : fallback;
}

export function notePreview(note: Note | null | undefined, fallback: string): string {
  if (!note) return fallback;
  const flat = noteText(note, fallback).split(/\s+/).filter(Boolean).join(" ");
  return flat.length <= PREVIEW_CHARS ? flat : `${flat.slice(0, PREVIEW_CHARS - 1)}…`;
}
