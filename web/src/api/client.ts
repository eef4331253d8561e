// The gateway's public API (/api/v1): JSON in and out, problem+json errors, and the session's
// tokens: the access token lives in memory, the rotating refresh token in localStorage so a
// reload keeps the user signed in. A 401 refreshes once and retries.

import i18n from "../i18n";
import type { Schema } from "./types";

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  errors?: { field: string; message: string }[];
}

export class ApiError extends Error {
  constructor(public readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
  }
  get status(): number {
    return this.problem.status;
  }
  /** What to tell the user, in the UI's language: the services word their details in English,
   * so another language reads the app's own text for the problem's type, or else its status. */
  get readable(): string {
    return readableProblem(this.problem);
  }
  fieldError(field: string): string | undefined {
    return this.problem.errors?.find((e) => e.field === field || e.field.endsWith(`.${field}`))?.message;
  }
}

export type User = Schema<"UserOut">;

export type Tokens = Schema<"TokensOut">;

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** The UI's language: sent as Accept-Language on every call, so server-made texts match the screen. */
export function uiLanguage(): string {
  return i18n.resolvedLanguage ?? i18n.language ?? "es";
}

export function readableProblem(problem: Problem): string {
  const server = problem.detail ?? problem.title;
  if (uiLanguage() === "en" && server) return server;
  const slug = problem.type?.startsWith(PROBLEM_PREFIX) ? problem.type.slice(PROBLEM_PREFIX.length) : undefined;
  const options = { ns: "common", defaultValue: "" };
  return (
    (slug && i18n.t(`problems.type.${slug}`, options)) ||
    i18n.t(`problems.status.${problem.status}`, options) ||
    i18n.t("problems.other", { ns: "common", status: problem.status })
  );
}

const PROBLEM_PREFIX = "urn:partnerapp:problem:";
const REFRESH_KEY = "partnerapp.refresh";
const BASE = "/api/v1";

type Listener = (tokens: Tokens | null) => void;

class Session {
  private access: string | null = null;
  private refreshing: Promise<Tokens | null> | null = null;
  private listeners = new Set<Listener>();

  get accessToken(): string | null {
    return this.access;
  }

  get hasRefreshToken(): boolean {
    return localStorage.getItem(REFRESH_KEY) !== null;
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(tokens: Tokens | null): void {
    this.access = tokens?.access_token ?? null;
    if (tokens) localStorage.setItem(REFRESH_KEY, tokens.refresh_token);
    else localStorage.removeItem(REFRESH_KEY);
    this.listeners.forEach((listener) => listener(tokens));
  }

  /** New tokens from the refresh token (one request at a time); null when the session is over. */
  refresh(partnerId?: string): Promise<Tokens | null> {
    if (!this.refreshing) {
      const refreshToken = localStorage.getItem(REFRESH_KEY);
      this.refreshing = (async () => {
        if (!refreshToken) return null;
        const response = await fetch(`${BASE}/auth/refresh`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "Accept-Language": uiLanguage() },
          body: JSON.stringify({ refresh_token: refreshToken, partner_id: partnerId ?? null }),
        });
        if (!response.ok) {
          if (response.status === 403) throw new ApiError(await problemOf(response));
          this.set(null);
          return null;
        }
        const tokens = (await response.json()) as Tokens;
        this.set(tokens);
        return tokens;
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }
}

export const session = new Session();

async function problemOf(response: Response): Promise<Problem> {
  try {
    const body = (await response.json()) as Partial<Problem>;
    return { ...body, status: response.status };
  } catch {
    return { status: response.status, title: response.statusText };
  }
}

export interface RequestOptions {
  method?: string;
  query?: Record<string, string | number | boolean | null | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export function url(path: string, query?: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return `${BASE}${path}${text ? `?${text}` : ""}`;
}

/** A raw response (for downloads); throws ApiError unless 2xx. */
export async function send(path: string, options: RequestOptions = {}): Promise<Response> {
  const attempt = () => {
    const headers: Record<string, string> = {
      Accept: "application/json",
      "Accept-Language": uiLanguage(),
      ...options.headers,
    };
    if (session.accessToken) headers.Authorization = `Bearer ${session.accessToken}`;
    // JSON unless the call names its JSON flavour (e.g. application/merge-patch+json).
    if (options.body !== undefined) headers["Content-Type"] ??= "application/json";
    return fetch(url(path, options.query), {
      method: options.method ?? "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  };
  let response = await attempt();
  if (response.status === 401 && session.hasRefreshToken) {
    if (await session.refresh()) response = await attempt();
  }
  if (!response.ok) throw new ApiError(await problemOf(response));
  return response;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** A key for a POST that may be retried (the services apply it once). */
export function idempotencyKey(): string {
  return crypto.randomUUID();
}

/** Saves a download (PDF, CSV, XLSX) under the name the server gives; answers the response's headers
 * (e.g. a content hash the server computed). */
export async function download(path: string, query?: RequestOptions["query"], fallbackName = "download"): Promise<Headers> {
  const response = await send(path, { query, headers: { Accept: "*/*" } });
  const disposition = response.headers.get("Content-Disposition") ?? "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  return response.headers;
}
