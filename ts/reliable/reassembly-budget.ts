/** The reassembly budget several reliable endpoints share (a server's total). */
import { native, type NativeReassemblyBudget } from '../native/addon.js';
import { checkInteger } from '../options.js';

/** A reassembly memory budget shared by many endpoints (a server's total). */
export class ReassemblyBudget {
  /** @internal */
  readonly handle: NativeReassemblyBudget;

  constructor(bytes: number) {
    this.handle = new native.ReassemblyBudget(checkInteger('bytes', bytes, 0, Number.MAX_SAFE_INTEGER));
  }

  get usedBytes(): number {
    return this.handle.used();
  }
}
