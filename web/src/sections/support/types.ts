// The shapes of the public API this section reads (support__ThreadOut, support__MessageOut,
// the composed thread view of the gateway, instances__CompanyOut / InstanceOut).
import type { Schema } from "../../api/types";
import i18n from "i18next";

export type Side = "partner" | "support" | "system";
export type Direction = "sent" | "received" | "system";

export type Thread = Schema<"support__ThreadOut">;

export type Message = Schema<"support__MessageOut">;

/** A system note as a code and its values: the app words it in the UI's language. */
export interface Note {
  code: string;
  params: Record<string, string>;
}

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
