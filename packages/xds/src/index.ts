export { fromEnvoy, translate, translateResource, kindOfTypeUrl } from './translate/index.js';
export type { AnyMessage, ResourceOutcome, TranslateOptions, TranslationResult } from './translate/index.js';
export { formatIssue } from './issues.js';
export { compileRegex } from './regex.js';
export { TYPE_URLS } from './type-urls.js';
export { XdsTranslationError, XdsValidationError, BootstrapError } from './errors.js';
export type * from './types.js';
export { ConfigError, MeshletError } from '@meshlet/errors';
export { validate, assertValid } from './validate.js';
export type { ValidationInput } from './validate.js';
export { loadBootstrap, parseBootstrap, adsServerAddress } from './bootstrap.js';
export type { LoadedBootstrap } from './bootstrap.js';
export { encodeResource } from './proto/encode.js';
export type { EncodedAny } from './proto/encode.js';
export { AdsClient, createAdsClient } from './ads/ads-client.js';
export type {
  AdsBackoff,
  AdsClientEvents,
  AdsClientOptions,
  AdsStatus,
  AdsTimers,
} from './ads/ads-client.js';
export { TestControlPlane, createTestControlPlane } from './ads/test-control-plane.js';
export type {
  ControlPlaneResource,
  ControlPlaneSnapshot,
  ReceivedRequest,
  TestControlPlaneEvents,
  TestControlPlaneOptions,
} from './ads/test-control-plane.js';
export type { DiscoveryRequest, DiscoveryResponse, WireResource } from './ads/messages.js';
