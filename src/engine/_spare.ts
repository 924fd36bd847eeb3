/**
 * A spare snapshot: one a handle keeps published after the use it was
 * published for ended, so that the next use finds a snapshot already
 * published and needs no lock call (PP-9). Two kinds: GC-9's hold of a
 * committer (group_commit.ts) and DB-8's snapshot of a transaction
 * (database.ts). A spare bounds checkpoints as a live snapshot would, so it
 * goes as soon as it is not wanted: after a turn of the event loop in which
 * nothing meant to use it (want()), or when its owner withdraws it.
 *
 * The owner publishes the snapshot before it keeps it here, and the spare
 * withdraws it (through `withdraw`) only if it is still here: take() hands
 * it back to the owner, who then owns its publication again.
 */
import { AssertionError, assert } from "../errors.ts";

export class SpareSnapshot {
  #tsn: number | null = null;
  /** A use since the last check; a check scheduled. */
  #wanted = false;
  #checking = false;
  readonly #yieldTurn: () => Promise<void>;
  readonly #withdraw: (tsn: number) => void;
  readonly #mayWithdraw: () => boolean;

  /**
   * `withdraw` unpublishes a spare that goes; `mayWithdraw` can make a check
   * that finds it unwanted leave it (GC-9: a batch on its way takes it, and
   * the owner checks again with scheduleCheck()).
   */
  constructor(yieldTurn: () => Promise<void>, withdraw: (tsn: number) => void, mayWithdraw: () => boolean = () => true) {
    this.#yieldTurn = yieldTurn;
    this.#withdraw = withdraw;
    this.#mayWithdraw = mayWithdraw;
  }

  /** The spare, or null. */
  get tsn(): number | null {
    return this.#tsn;
  }

  /** Keeps `tsn`, published by the caller, as the spare; it goes after a turn in which nothing wanted it. */
  keep(tsn: number): void {
    assert(this.#tsn === null, `a spare snapshot is kept already (${this.#tsn}), cannot keep ${tsn}`);
    this.#tsn = tsn;
    this.scheduleCheck();
  }

  /** A use this turn: the next check keeps the spare. */
  want(): void {
    if (this.#tsn !== null) this.#wanted = true;
  }

  /** Hands the spare to the caller, who now owns its publication; null if there is none. */
  take(): number | null {
    const tsn = this.#tsn;
    this.#tsn = null;
    this.#wanted = false;
    return tsn;
  }

  /** Withdraws the spare now, if there is one. */
  release(): void {
    const tsn = this.take();
    if (tsn !== null) this.#withdraw(tsn);
  }

  /** A check after the next turn, unless one is scheduled: the spare goes if nothing wanted it meanwhile. */
  scheduleCheck(): void {
    if (this.#checking || this.#tsn === null) return;
    this.#checking = true;
    void this.#yieldTurn().then(() => {
      this.#checking = false;
      if (this.#tsn === null) return;
      if (this.#wanted) {
        this.#wanted = false;
        this.scheduleCheck();
      } else if (this.#mayWithdraw()) {
        this.release();
      }
    }).catch((err: unknown) => {
      if (err instanceof AssertionError) throw err;
      // Otherwise only a lock file closed under it: its locks went with it.
    });
  }
}
