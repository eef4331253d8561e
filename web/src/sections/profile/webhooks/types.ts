// The gateway's webhooks API (/api/v1/webhooks...): aliases of the generated schemas
// (../../../api/types, `make web-api-types`) under the names the section uses, and its constants.
import type { Schema } from "../../../api/types";

export type SubscriptionStatus = Schema<"WebhookOut">["status"];
export type DeliveryOutcome = Schema<"DeliveryOut">["outcome"];

export const SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ["active", "paused", "failing_paused"];
export const DELIVERY_OUTCOMES: readonly DeliveryOutcome[] = ["pending", "succeeded", "failed"];
/** The event type of the "Send test event" button: delivered on demand, never subscribed to. */
export const TEST_EVENT_TYPE = "webhook.test";
export const MAX_DESCRIPTION = 200;
export const MAX_OVERLAP_HOURS = 168;
export const DEFAULT_OVERLAP_HOURS = 24;

/** GET /webhooks/event-types: the catalogue, described in the caller's language. */
export type EventTypeList = Schema<"WebhookEventTypesOut">;
export type EventType = EventTypeList["items"][number];

export type Subscription = Schema<"WebhookOut">;

/** POST /webhooks → 201: the subscription and, this once, its signing secret. */
export type CreatedSubscription = Schema<"WebhookCreatedOut">;

/** POST /webhooks body (header Idempotency-Key optional). */
export type SubscriptionCreate = Schema<"WebhookIn">;

/** PATCH /webhooks/{id} (application/merge-patch+json): only what changes. */
export type SubscriptionPatch = Schema<"WebhookPatchIn">;

/** POST /webhooks/{id}/secret body. */
export type SecretRotation = Schema<"SecretRotationIn">;

/** POST /webhooks/{id}/secret → 200. */
export type RotatedSecret = Schema<"SecretRotationOut">;

export type DeliveryAttempt = Schema<"DeliveryAttemptOut">;

export type Delivery = Schema<"DeliveryOut">;

/** POST /webhooks/{id}/replay body. */
export type ReplayRequest = Schema<"ReplayIn">;

/** POST /webhooks/{id}/replay → 202. */
export type Replayed = Schema<"ReplayedOut">;

export type SubscriptionPage = Schema<"WebhookPage">;
export type DeliveryPage = Schema<"DeliveryPage">;
