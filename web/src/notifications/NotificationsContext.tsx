import { createContext, useContext, useEffect, useRef, type ReactNode } from "react";

import { invalidatePaths } from "../api/queries";
import { useAuth } from "../auth/AuthContext";
import { openNotificationStream, type Notification, type NotificationHandler } from "./stream";

interface Notifications {
  /** Calls `handler` for every live notification until the returned function is called. */
  subscribe(handler: NotificationHandler): () => void;
}

const NotificationsContext = createContext<Notifications | null>(null);

/** What each kind of notification makes stale: the API paths whose queries refetch (when shown). */
const STALE_PATHS: { type: string; paths: string[] }[] = [
  // A message moves its thread up the list, changes the unread counts and joins the thread's messages.
  { type: "message.posted", paths: ["/threads"] },
  // An instance's change shows in its lists and views, in the thread toolbars and in open provisionings.
  { type: "instance.", paths: ["/instances", "/provisionings", "/views/instances", "/views/threads"] },
  // A license's change shows in the instance's counts and lists, and on its terminal (activity).
  { type: "license.", paths: ["/instances", "/views/instances", "/views/threads", "/activity"] },
  { type: "session.cleared", paths: ["/instances", "/views/instances", "/activity"] },
  // A subscription paused for failures (webhook.paused) shows its new status in Profile → Integrations.
  { type: "webhook.", paths: ["/webhooks"] },
];

export function stalePathsOf(notification: Notification): string[] {
  return STALE_PATHS.filter((entry) => notification.type.startsWith(entry.type)).flatMap((entry) => entry.paths);
}

export function NotificationsProvider({ children }: { children: ReactNode }) {
  const { status, partnerId } = useAuth();
  const handlers = useRef(new Set<NotificationHandler>());
  useEffect(() => {
    if (status !== "signed-in") return;
    return openNotificationStream((notification: Notification) => {
      const stale = stalePathsOf(notification);
      if (stale.length > 0) void invalidatePaths(...stale);
      handlers.current.forEach((handler) => handler(notification));
    });
  }, [status, partnerId]);
  const value = useRef<Notifications>({
    subscribe(handler) {
      handlers.current.add(handler);
      return () => handlers.current.delete(handler);
    },
  });
  return <NotificationsContext.Provider value={value.current}>{children}</NotificationsContext.Provider>;
}

/** Runs `handler` for each live notification while the component is mounted (what is not a refetch:
 * a read mark, an announcement); refetching is `STALE_PATHS`' work. */
export function useNotifications(handler: NotificationHandler): void {
  const context = useContext(NotificationsContext);
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => context?.subscribe((n) => latest.current(n)), [context]);
}
