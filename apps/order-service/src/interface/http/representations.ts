import type { SagaStepLogEntry, SagaSummary, SagaTimelineEntry, SagaView } from '@msr/saga';
import type { OrderDetails } from '../../application/queries/order.queries.js';
import type { Product } from '../../domain/product.entity.js';

/** A catalog entry on the wire: `{sku, name, price_cents, stock}`. */
export function productJson(product: Product) {
  return { sku: product.sku, name: product.name, price_cents: product.priceCents, stock: product.stock };
}

/**
 * One step-log entry on the wire. `step` is the action's name (`release-inventory` for the
 * compensation of `reserve-inventory`), `outcome` its status, `error` the last error if any.
 */
export function stepJson(entry: SagaStepLogEntry) {
  return {
    step: entry.action,
    direction: entry.direction,
    outcome: entry.status,
    attempts: entry.attempts,
    duration_ms: entry.durationMs,
    started_at: entry.startedAt,
    finished_at: entry.finishedAt,
    ...(entry.lastError === null ? {} : { error: entry.lastError }),
  };
}

/** A saga summary inside an order: id, status and step log. */
function orderSagaJson(saga: SagaView) {
  return { id: saga.id, status: saga.status, steps: saga.steps.map(stepJson) };
}

/** An order with its saga on the wire (`GET /orders/{id}`). Amounts in cents, times RFC 3339. */
export function orderJson({ order, saga }: OrderDetails) {
  return {
    id: order.id,
    user_id: order.userId,
    status: order.status,
    reason_code: order.reasonCode,
    reason: order.reason,
    items: order.lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unit_price_cents: line.unitPriceCents, subtotal_cents: line.subtotalCents })),
    total_cents: order.totalCents,
    created_at: order.createdAt.toISOString(),
    updated_at: order.updatedAt.toISOString(),
    ...(saga === undefined ? {} : { saga: orderSagaJson(saga) }),
  };
}

/** A saga without its step log and timeline (`GET /sagas`). */
export function sagaSummaryJson(saga: SagaSummary) {
  return {
    id: saga.id,
    type: saga.definitionName,
    version: saga.definitionVersion,
    status: saga.status,
    direction: saga.direction,
    current_step: saga.currentStep,
    attempt: saga.attempt,
    failure: saga.failure,
    awaiting_message_id: saga.awaitingMessageId,
    wake_at: saga.wakeAt,
    deadline_at: saga.deadlineAt,
    generation: saga.generation,
    owner: saga.owner,
    lease_until: saga.leaseUntil,
    parked_at: saga.parkedAt,
    parked_reason: saga.parkedReason,
    data: saga.data,
    created_at: saga.createdAt,
    updated_at: saga.updatedAt,
    finished_at: saga.finishedAt,
  };
}

/** One timeline entry on the wire. */
export function timelineJson(entry: SagaTimelineEntry) {
  return {
    at: entry.at,
    event: entry.event,
    step: entry.step,
    action: entry.action,
    direction: entry.direction,
    attempt: entry.attempt,
    status: entry.status,
    message_id: entry.messageId,
    message_type: entry.messageType,
    detail: entry.detail,
    instance: entry.owner,
  };
}

/**
 * A saga in full (`GET /sagas/{id}`), for operators: where it is, why it failed, its data, its
 * step log (one row per step and direction) and its timeline (every attempt, retry, command sent,
 * reply applied or ignored, timeout, parking and operator retry, in order).
 */
export function sagaJson(saga: SagaView) {
  return {
    ...sagaSummaryJson(saga),
    steps: saga.steps.map((entry) => ({
      ...stepJson(entry),
      saga_step: entry.step,
      failure_code: entry.failureCode,
      command_message_id: entry.commandMessageId,
      reply_message_id: entry.replyMessageId,
    })),
    timeline: saga.timeline.map(timelineJson),
  };
}
