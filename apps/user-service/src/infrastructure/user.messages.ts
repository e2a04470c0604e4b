import { createMessage, type MessageEnvelope } from '@msr/events';
import type { UserDomainEvent } from '../domain/user.events.js';

/**
 * Turns a domain event of the user aggregate into its integration message (`libs/events`
 * catalog: `user.created`, `user.updated`, `user.deleted` on `user.events`, keyed by the user id
 * so one user's events stay in order). The occurrence time of the domain event becomes the
 * message's `occurred_at`.
 */
export function toUserMessage(event: UserDomainEvent): MessageEnvelope {
  switch (event.type) {
    case 'user.created':
      return createMessage(
        'user.created',
        {
          user_id: event.user.id,
          email: event.user.email,
          name: event.user.name,
          status: event.user.status,
          created_at: event.user.createdAt.toISOString(),
        },
        { key: event.user.id, occurredAt: event.occurredAt },
      );
    case 'user.updated':
      return createMessage(
        'user.updated',
        {
          user_id: event.user.id,
          email: event.user.email,
          name: event.user.name,
          status: event.user.status,
          updated_at: event.user.updatedAt.toISOString(),
        },
        { key: event.user.id, occurredAt: event.occurredAt },
      );
    case 'user.deleted':
      return createMessage('user.deleted', { user_id: event.userId, deleted_at: event.occurredAt.toISOString() }, { key: event.userId, occurredAt: event.occurredAt });
  }
}
