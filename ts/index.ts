export { crc32c } from './codec/crc32c.js';
export { lz4Compress, lz4Decompress } from './codec/lz4.js';
export { FrameDecoder } from './codec/frame-decoder.js';
export type { Frame, FrameDecoderOptions } from './codec/frame-decoder.js';
export { FrameEncoder } from './codec/frame-encoder.js';
export type { FrameEncoderOptions, FrameSpec } from './codec/frame-encoder.js';
export {
  DEFAULT_MAX_FRAME_SIZE,
  FrameFlag,
  FrameType,
  HEADER_SIZE,
  PROTOCOL_VERSION,
} from './codec/frame.js';
export { FrameError, HybridwireError, OptionError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { createServer, Server } from './api/server.js';
export type { ServerOptions, ServerStats, ListenResult } from './api/server.js';
export type { BuiltinName, BuiltinsOption } from './api/builtins.js';
export type { UdpCounters, ReliableTotals } from './api/server-udp.js';
export { connect, Client } from './api/client.js';
export type { ClientOptions, ClientState, ReconnectOptions } from './api/client.js';
export { Peer } from './api/peer.js';
export type { Address } from './api/peer.js';
export type { RequestOptions } from './api/session-handle.js';
export type { LimitOptions } from './api/limits.js';
export type { MessageInfo, SendOptions, Transport, ConnectionStats } from './session/connection.js';
export type { Payload, JsonValue } from './session/message.js';
export { PROTOCOL_SEMVER, SUPPORTED_FEATURES } from './session/handshake.js';
export type { DeliveryMode, Hello } from './session/handshake.js';
export type { Authenticate, AuthenticateInfo, AdmissionOptions } from './api/admission.js';
export type { ServerTlsOptions, ClientTlsOptions, PeerCertificate } from './transport/tls.js';
export { RemoteError, AbortError, ConfigError } from './errors.js';
export { loadConfig, readConfig } from './config/load-config.js';
export type { Logger } from './features/logging/logger.js';
export type { MetricsOptions } from './features/metrics/server-metrics.js';
export type { MetricsSnapshot, DropCause, TransportFigures } from './features/metrics/snapshot.js';
export { MetricsCsv } from './features/metrics/csv-export.js';
export { serveDashboard } from './features/dashboard/dashboard-server.js';
export type { Dashboard, DashboardOptions } from './features/dashboard/dashboard-server.js';
export type { MetricsCsvOptions } from './features/metrics/csv-export.js';
export type { ConfigOptions, ConfigSetting, Configuration, ConfigLayers } from './config/load-config.js';
export { ReliableEndpoint, ReassemblyBudget } from './reliable/reliable-endpoint.js';
export type { ReliableEndpointOptions, ReliableSendOptions, ReliableStats, OverflowPolicy } from './reliable/reliable-endpoint.js';
export type { UdpStats } from './transport/udp-session.js';
export type { SealAlgorithm, SealingStats } from './transport/datagram-seal.js';
export { Subscription } from './pubsub/subscription.js';
export type { PubsubMessage, QoS } from './pubsub/wire.js';
export type { PublishOptions, SubscribeOptions, WillOptions } from './pubsub/pubsub-options.js';
export type { PubsubClientOptions } from './pubsub/client-pubsub.js';
export type { PubsubServerOptions } from './pubsub/server-pubsub.js';
export type { PubsubStats } from './pubsub/pubsub-stats.js';
export type { Broker, RoutedMessage } from './pubsub/broker.js';
export { MemorySessionStore, MemoryRetainedStore } from './pubsub/stores.js';
export type { SessionStore, RetainedStore, SessionState, RetainedMessage, SubscriptionOptions, QueuedDelivery, InflightDelivery } from './pubsub/stores.js';
