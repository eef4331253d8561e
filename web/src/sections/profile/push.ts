// Web Push on this device: the service worker's subscription, registered with the gateway.
import { api, ApiError } from "../../api/client";

export type PushState = "checking" | "unsupported" | "insecure" | "denied" | "no-worker" | "off" | "on";

const READY_TIMEOUT_MS = 5000;

export function pushSupported(): boolean {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

/** The VAPID public key (base64url) as the bytes `applicationServerKey` wants. */
export function base64UrlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** The app's service worker once active; null when there is none (or it does not start in time). */
export async function serviceWorker(): Promise<ServiceWorkerRegistration | null> {
  try {
    const existing = await navigator.serviceWorker.getRegistration();
    if (!existing) await navigator.serviceWorker.register("/sw.js");
  } catch {
    return null;
  }
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), READY_TIMEOUT_MS));
  return Promise.race([navigator.serviceWorker.ready, timeout]);
}

/** What the toggle shows now, without asking the user anything. */
export async function currentPushState(): Promise<PushState> {
  if (!window.isSecureContext) return "insecure";
  if (!pushSupported()) return "unsupported";
  if (Notification.permission === "denied") return "denied";
  const registration = await serviceWorker();
  if (!registration) return "no-worker";
  const subscription = await registration.pushManager.getSubscription();
  if (subscription && Notification.permission === "granted") {
    // Idempotent: keeps the gateway's copy owned by the signed-in user and acting partner.
    void api("/push/subscriptions", { method: "POST", body: subscription.toJSON() }).catch(() => undefined);
    return "on";
  }
  return "off";
}

/** Asks permission, subscribes with the gateway's key and registers the subscription. */
export async function enablePush(): Promise<PushState> {
  const permission = Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
  if (permission !== "granted") return permission === "denied" ? "denied" : "off";
  const registration = await serviceWorker();
  if (!registration) return "no-worker";
  const { public_key: key } = await api<{ public_key: string }>("/push/vapid-public-key");
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: base64UrlToBytes(key),
  });
  try {
    await api("/push/subscriptions", { method: "POST", body: subscription.toJSON() });
  } catch (failure) {
    await subscription.unsubscribe().catch(() => false);
    throw failure;
  }
  return "on";
}

/** Unsubscribes this device and tells the gateway to forget it. */
export async function disablePush(): Promise<PushState> {
  const registration = await serviceWorker();
  const subscription = await registration?.pushManager.getSubscription();
  if (!subscription) return "off";
  const { endpoint } = subscription;
  await subscription.unsubscribe();
  try {
    await api("/push/subscriptions", { method: "DELETE", query: { endpoint } });
  } catch (failure) {
    if (!(failure instanceof ApiError && failure.status === 404)) throw failure;
  }
  return "off";
}
