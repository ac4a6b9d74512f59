import { native } from '../native/addon.js';
import { DECODE_ERRORS, DEFAULT_MAX_FRAME_SIZE, Row, ROW_WIDTH } from './frame.js';
import { FrameRows } from './frame-rows.js';

/**
 * Decodes the frames of one datagram in one native call. Unlike a stream, a datagram that ends
 * inside a frame is an error (HW_ERR_TRUNCATED). Rows stay valid until the next decode().
 */
export class DatagramDecoder extends FrameRows {
  count = 0;
  /** The stable code of the last decode's error, or undefined when it succeeded. */
  error: string | undefined;
  private readonly result = new Uint32Array(4);
  private datagram: Uint8Array = new Uint8Array(0);

  constructor(readonly maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    super(64);
  }

  /** Returns the number of frames, or -1 if the datagram is malformed (see `error`). */
  decode(datagram: Uint8Array): number {
    this.datagram = datagram;
    let frames = native.decodeDatagram(datagram, this.rows, this.result, this.maxFrameSize);
    while (this.result[2] === 0 && this.result[1] !== datagram.length) {
      this.rows = new Uint32Array(this.rows.length * 2);
      frames = native.decodeDatagram(datagram, this.rows, this.result, this.maxFrameSize);
    }
    const error = this.result[2]!;
    if (error !== 0) {
      this.error = DECODE_ERRORS[error]?.[0] ?? 'HW_ERR_DECODER_FAILED';
      this.count = 0;
      return -1;
    }
    this.error = undefined;
    this.count = frames;
    return frames;
  }

  /** The payload of frame `index`, as a view (a plain Uint8Array: the cheapest view to make). */
  payload(index: number): Uint8Array {
    const datagram = this.datagram;
    return new Uint8Array(datagram.buffer, datagram.byteOffset + this.rows[index * ROW_WIDTH + Row.OFFSET]!, this.rows[index * ROW_WIDTH + Row.LENGTH]!);
  }
}
