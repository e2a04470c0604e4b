import { partitionKey } from './records.js';

/** A consumed position to commit: the offset of the next record to read, as Kafka expects it. */
export interface CommitPosition {
  topic: string;
  partition: number;
  /** Decimal string (offsets may exceed 2^53): the handled record's offset plus one. */
  offset: string;
}

/** What {@link OffsetCommits} needs. */
export interface OffsetCommitsOptions {
  /** Sends one OffsetCommit request for these positions (kafkajs `consumer.commitOffsets`). */
  commit: (positions: CommitPosition[]) => Promise<void>;
  /** Longest time a handled record's offset waits before it is committed, in ms. */
  intervalMs: number;
  /** Told when a commit failed; its positions are kept for the next one unless superseded. */
  onError: (error: unknown, positions: readonly CommitPosition[]) => void;
}

/**
 * Batches a group member's offset commits: at most one OffsetCommit request per `intervalMs`,
 * carrying the newest handled position of every partition, instead of one per fetched batch
 * (kafkajs' auto-commit). At a few hundred records per second that is most of the broker's work for
 * a consumer: each commit is an append to `__consumer_offsets`.
 *
 * What it costs: a member that dies uncleanly leaves up to `intervalMs` of handled records
 * uncommitted, and whoever takes its partitions reads them again. The inbox makes that harmless:
 * a redelivered message is recognised as a duplicate and has no second effect. A position is only
 * ever recorded after its record's handling committed, so an offset never passes an unhandled
 * record.
 *
 * Positions of partitions the member no longer owns after a rebalance are dropped
 * ({@link assigned}): committing them would move the new owner's offset back.
 */
export class OffsetCommits {
  private readonly pending = new Map<string, CommitPosition>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: OffsetCommitsOptions) {}

  /** Records that the record at `offset` of `topic`/`partition` was handled; commits within `intervalMs`. */
  handled(topic: string, partition: number, offset: string): void {
    if (this.closed) return;
    this.pending.set(partitionKey(topic, partition), { topic, partition, offset: (BigInt(offset) + 1n).toString() });
    this.arm();
  }

  /** Keeps only the positions of partitions in `assignment` (topic → partitions), after a rebalance. */
  assigned(assignment: Readonly<Record<string, readonly number[]>>): void {
    for (const [key, position] of this.pending) {
      if (!assignment[position.topic]?.includes(position.partition)) this.pending.delete(key);
    }
  }

  /**
   * Commits every pending position now, in one request (after any commit already under way).
   * Never rejects: a failure goes to `onError`, and the positions stay pending unless a newer one
   * for their partition arrived meanwhile.
   */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.pending.size === 0) return;
    const positions = [...this.pending.values()];
    this.pending.clear();
    this.flushing = this.options.commit(positions).then(
      () => undefined,
      (error: unknown) => {
        for (const position of positions) {
          const key = partitionKey(position.topic, position.partition);
          if (!this.pending.has(key)) this.pending.set(key, position);
        }
        this.options.onError(error, positions);
        this.arm();
      },
    );
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  /** Schedules a flush `intervalMs` from now unless one is scheduled or nothing is pending. */
  private arm(): void {
    if (this.closed || this.timer !== undefined || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the pending timer (positions not flushed are dropped). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}

