// The gateway's notification stream (Server-Sent Events over fetch: EventSource cannot send the
// Authorization header). Reconnects with Last-Event-ID, so nothing is missed meanwhile; the
// gateway ends the stream when the access token expires, and the next attempt refreshes it.
import { session, uiLanguage } from "../api/client";

export interface Notification {
  id: string;
  type: string;
  partner_id: string;
  subject: string | null;
  time: string;
  data: Record<string, string>;
}

export type NotificationHandler = (notification: Notification) => void;

export function openNotificationStream(onNotification: NotificationHandler): () => void {
  const controller = new AbortController();
  let lastEventId: string | null = null;

  async function readOnce(): Promise<void> {
    const token = session.accessToken ?? (await session.refresh())?.access_token;
    if (!token) return;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${token}`,
      Accept: "text/event-stream",
      "Accept-Language": uiLanguage(),
    };
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    const response = await fetch("/api/v1/notifications/stream", { headers, signal: controller.signal });
    if (response.status === 401) {
      await session.refresh();
      return;
    }
    if (!response.ok || !response.body) throw new Error(`notification stream: HTTP ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id: string | null = null;
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("id:")) id = line.slice(3).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (id) lastEventId = id;
        if (data) onNotification(JSON.parse(data) as Notification);
      }
    }
  }

  void (async () => {
    let delay = 1000;
    while (!controller.signal.aborted) {
      try {
        await readOnce();
        delay = 1000;
      } catch {
        if (controller.signal.aborted) return;
        delay = Math.min(delay * 2, 30_000);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  })();
  return () => controller.abort();
}
