// File uploads with progress: fetch cannot report how much of a request body has been sent, so an
// upload goes through XMLHttpRequest (its `upload.onprogress`), with the same headers, session
// refresh and problem+json errors as `api()`.
import { ApiError, session, uiLanguage, url, type Problem } from "./client";

export interface UploadOptions {
  /** The multipart field the file goes in. */
  field?: string;
  /** Called with the fraction sent, 0..1. */
  onProgress?(fraction: number): void;
  signal?: AbortSignal;
}

/** Raised when the upload was aborted through its signal. */
export class UploadAborted extends Error {
  constructor() {
    super("upload aborted");
    this.name = "UploadAborted";
  }
}

function problemOf(request: XMLHttpRequest): Problem {
  try {
    const body = JSON.parse(request.responseText) as Partial<Problem>;
    return { ...body, status: request.status };
  } catch {
    return { status: request.status, title: request.statusText };
  }
}

function attempt(path: string, file: File, options: UploadOptions): Promise<XMLHttpRequest> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url(path));
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("Accept-Language", uiLanguage());
    if (session.accessToken) request.setRequestHeader("Authorization", `Bearer ${session.accessToken}`);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) options.onProgress?.(event.loaded / event.total);
    };
    request.onload = () => resolve(request);
    // A network failure reads as fetch's does (TypeError: "no connection").
    request.onerror = () => reject(new TypeError("network error"));
    request.onabort = () => reject(new UploadAborted());
    const abort = () => request.abort();
    if (options.signal?.aborted) {
      reject(new UploadAborted());
      return;
    }
    options.signal?.addEventListener("abort", abort, { once: true });
    request.onloadend = () => options.signal?.removeEventListener("abort", abort);
    const form = new FormData();
    form.append(options.field ?? "file", file, file.name);
    request.send(form); // the browser sets the multipart Content-Type with its boundary
  });
}

/** POSTs one file as multipart/form-data to `path` (under /api/v1); resolves with the JSON answer. */
export async function uploadFile<T>(path: string, file: File, options: UploadOptions = {}): Promise<T> {
  let request = await attempt(path, file, options);
  if (request.status === 401 && session.hasRefreshToken) {
    if (await session.refresh()) {
      options.onProgress?.(0);
      request = await attempt(path, file, options);
    }
  }
  if (request.status < 200 || request.status >= 300) throw new ApiError(problemOf(request));
  return JSON.parse(request.responseText) as T;
}
