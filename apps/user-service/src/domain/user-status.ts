/**
 * The lifecycle of a user account (seed 002's `Status`): a new user is `pending` until activated;
 * `active` users may place orders; `inactive` users are switched off and may be reactivated.
 */
export const userStatuses = ['pending', 'active', 'inactive'] as const;

/** One of {@link userStatuses}. */
export type UserStatus = (typeof userStatuses)[number];

/** True when `value` is a {@link UserStatus}. */
export function isUserStatus(value: string): value is UserStatus {
  return (userStatuses as readonly string[]).includes(value);
}
