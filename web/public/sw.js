/* partnerapp service worker: Web Push. A support message shows as a notification; tapping
   it focuses (or opens) the app at the support thread the payload names. No offline caching:
   the app always loads its current files from the gateway. */
/* eslint-env serviceworker */

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

// Only paths of this app are opened from a notification (never another origin).
function appUrl(url) {
  try {
    const target = new URL(typeof url === "string" && url ? url : "/", self.location.origin);
    return target.origin === self.location.origin ? target.href : new URL("/", self.location.origin).href;
  } catch {
    return new URL("/", self.location.origin).href;
  }
}

self.addEventListener("push", (event) => {
  let payload = {};
  if (event.data) {
    try {
      payload = event.data.json();
    } catch {
      payload = { body: event.data.text() };
    }
  }
  const title = typeof payload.title === "string" && payload.title ? payload.title : "partnerapp";
  const options = {
    body: typeof payload.body === "string" ? payload.body : "",
    icon: "/icons/icon-192.png",
    badge: "/icons/icon-192.png",
    // One notification per thread: a newer message replaces the previous one.
    tag: payload.thread_id ? `thread-${payload.thread_id}` : payload.notification_id || undefined,
    renotify: Boolean(payload.thread_id),
    data: {
      url: appUrl(payload.url),
      thread_id: payload.thread_id ?? null,
      notification_id: payload.notification_id ?? null,
      type: payload.type ?? null,
    },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = appUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = windows.find((client) => new URL(client.url).origin === self.location.origin);
      if (open) {
        // The open app window goes straight to the thread (direct access, R-06).
        try {
          const navigated = await open.navigate(target);
          if (navigated) return navigated.focus();
        } catch {
          /* not controlled by this worker yet: open the thread in a new window below */
        }
      }
      return self.clients.openWindow(target);
    })(),
  );
});
