import { createContext, useContext, useEffect, useRef, type ReactNode } from "react";

import { useAuth } from "../auth/AuthContext";
import { openNotificationStream, type Notification, type NotificationHandler } from "./stream";

interface Notifications {
  /** Calls `handler` for every live notification until the returned function is called. */
  subscribe(handler: NotificationHandler): () => void;
}

const NotificationsContext = createContext<Notifications | null>(null);

export function NotificationsProvider({ children }: { children: ReactNode }) {
  const { status, partnerId } = useAuth();
  const handlers = useRef(new Set<NotificationHandler>());
  useEffect(() => {
    if (status !== "signed-in") return;
    return openNotificationStream((notification: Notification) => {
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

/** Runs `handler` for each live notification while the component is mounted. */
export function useNotifications(handler: NotificationHandler): void {
  const context = useContext(NotificationsContext);
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => context?.subscribe((n) => latest.current(n)), [context]);
}
