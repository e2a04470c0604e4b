/**
 * Narrows a query to the instances that carry every listed tag and every listed metadata value
 * (seed 003's filtering, e.g. `{ meta: { version: '2.0.0' } }`). Empty: every instance matches.
 */
export interface InstanceFilter {
  tags?: readonly string[];
  meta?: Readonly<Record<string, string>>;
}

/** Whether an instance with these tags and metadata passes `filter`. Pure. */
export function matchesFilter(
  instance: { readonly tags: readonly string[]; readonly meta: Readonly<Record<string, string>> },
  filter: InstanceFilter | undefined,
): boolean {
  if (filter === undefined) return true;
  for (const tag of filter.tags ?? []) if (!instance.tags.includes(tag)) return false;
  for (const [key, value] of Object.entries(filter.meta ?? {})) if (instance.meta[key] !== value) return false;
  return true;
}
