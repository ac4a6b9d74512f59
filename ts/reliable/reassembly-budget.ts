/** The reassembly budget several reliable endpoints share (a server's total). */
import { native, type NativeReassemblyBudget } from '../native/addon.js';
import { checkInteger } from '../validate.js';

/**
 * A reassembly memory budget shared by many endpoints (a server's total), divided fairly among
 * those holding memory in it: with n of them (an asking one included), each may hold a share of
 * total / (n + 1) and more only while a share stays free, so that the next one always finds room
 * (native/core/reliable/memory-budget.h has the rule).
 */
export class ReassemblyBudget {
  /** @internal */
  readonly handle: NativeReassemblyBudget;

  constructor(bytes: number) {
    this.handle = new native.ReassemblyBudget(checkInteger('bytes', bytes, 0, Number.MAX_SAFE_INTEGER));
  }

  /** Bytes the endpoints sharing it hold for their peers. */
  get usedBytes(): number {
    return this.handle.used();
  }

  /** Endpoints holding memory in it now. */
  get holders(): number {
    return this.handle.holders();
  }

  /**
   * Charges refused: over the total, or over an endpoint's fair share while that share was needed
   * (native/core/reliable/memory-budget.h).
   */
  get refusedCharges(): number {
    return this.handle.refused();
  }
}
