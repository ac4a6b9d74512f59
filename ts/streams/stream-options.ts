/** The options of streams, on servers and clients alike (ranges in ts/api/option-ranges.ts). */
import { integerOption } from '../api/option-ranges.js';

export interface StreamOptions {
  /**
   * Streams open at once in one session, both directions together; a stream opened past it is
   * refused with HW_ERR_STREAM_LIMIT. Default 100.
   */
  maxStreams?: number;
  /**
   * The credit each stream grants its sender (HTTP/2's initial window): at most this many bytes
   * the application has not read yet are held per stream. Default 256 KiB.
   */
  streamWindowBytes?: number;
  /** Largest data message a stream sends. Default 64 KiB. */
  maxStreamChunkBytes?: number;
}

export type StreamLimits = Required<StreamOptions>;

export function resolveStreamOptions(options: StreamOptions, maxFrameSize: number): StreamLimits {
  return {
    maxStreams: integerOption('maxStreams', options.maxStreams),
    streamWindowBytes: integerOption('streamWindowBytes', options.streamWindowBytes),
    // A data message is a frame: room for the frame's and the message's headers.
    maxStreamChunkBytes: Math.min(integerOption('maxStreamChunkBytes', options.maxStreamChunkBytes), maxFrameSize - 64),
  };
}
