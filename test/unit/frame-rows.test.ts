/**
 * ts/codec/frame-rows.ts: the accessors of a decoded frame row table read each field from its own
 * column of its own row (ts/codec/frame.ts names the columns; the native decoders write them).
 */
import { describe, expect, it } from 'vitest';
import { FrameRows } from '../../ts/codec/frame-rows.js';
import { Row, ROW_WIDTH } from '../../ts/codec/frame.js';

/** A row table filled by hand, as a native decoder would fill it. */
class HandRows extends FrameRows {
  constructor(rows: number) {
    super(rows);
  }

  get table(): Uint32Array {
    return this.rows;
  }

  write(index: number, fields: { offset: number; length: number; type: number; flags: number; channel: number; sequence: number }): void {
    const base = index * ROW_WIDTH;
    this.rows[base + Row.OFFSET] = fields.offset;
    this.rows[base + Row.LENGTH] = fields.length;
    this.rows[base + Row.TYPE] = fields.type;
    this.rows[base + Row.FLAGS] = fields.flags;
    this.rows[base + Row.CHANNEL] = fields.channel;
    this.rows[base + Row.SEQUENCE] = fields.sequence;
  }
}

describe('FrameRows', () => {
  it('allocates ROW_WIDTH values for each of its initial rows', () => {
    expect(new HandRows(5).table.length).toBe(5 * ROW_WIDTH);
    expect(ROW_WIDTH).toBe(Object.keys(Row).length);
  });

  it('reads every field of every row from its own column, with no two fields or rows mixed up', () => {
    const rows = new HandRows(3);
    const written = [0, 1, 2].map((i) => ({ offset: 100 + i, length: 200 + i, type: 0x04 + i, flags: 0x10 + i, channel: 30 + i, sequence: 0xffff_fff0 + i }));
    written.forEach((fields, i) => rows.write(i, fields));
    const read = written.map((_, i) => ({
      offset: rows.payloadOffset(i),
      length: rows.payloadLength(i),
      type: rows.type(i),
      flags: rows.flags(i),
      channel: rows.channel(i),
      sequence: rows.sequence(i),
    }));
    expect(read).toEqual(written);
  });
});
