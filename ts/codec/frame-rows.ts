import { Row, ROW_WIDTH } from './frame.js';

/**
 * Read access to a table of decoded frame rows: ROW_WIDTH uint32 per frame (payload offset,
 * length, type, flags, channel, sequence), as the native decoders write them.
 */
const NO_ROWS = new Uint32Array(0);

export abstract class FrameRows {
  protected rows: Uint32Array;

  /** `initialRows` 0: the subclass sets `rows` itself. */
  constructor(initialRows: number) {
    this.rows = initialRows === 0 ? NO_ROWS : new Uint32Array(initialRows * ROW_WIDTH);
  }

  type(index: number): number {
    return this.rows[index * ROW_WIDTH + Row.TYPE]!;
  }
  flags(index: number): number {
    return this.rows[index * ROW_WIDTH + Row.FLAGS]!;
  }
  channel(index: number): number {
    return this.rows[index * ROW_WIDTH + Row.CHANNEL]!;
  }
  sequence(index: number): number {
    return this.rows[index * ROW_WIDTH + Row.SEQUENCE]!;
  }
  payloadLength(index: number): number {
    return this.rows[index * ROW_WIDTH + Row.LENGTH]!;
  }
  payloadOffset(index: number): number {
    return this.rows[index * ROW_WIDTH + Row.OFFSET]!;
  }
}
