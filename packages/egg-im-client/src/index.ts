/**
 * egg-im-client: a small typed client for egg-im (Node 20+ and browsers), on socket.io-client.
 * `import { ImClient } from 'egg-im-client'` (also re-exported by the framework as `egg-im/client`).
 */
export { ImClient } from './ImClient';
export { ImClientError, isImClientError } from './errors';
export type { ClientErrorCode, LocalErrorCode } from './errors';
export { Inbox } from './Inbox';
export type {
  AnyMessageTypes, BatchItem, BatchResult, BuiltinMessageTypes, ClientSessionExpiredEvent, ConversationsQuery, ConversationsResult,
  CreateGroupResult, EndpointOptions, GroupMembersResult, HistoryQuery, HistoryResult, ImClientEvents, ImClientOptions,
  LoginOptions, LoginResult, MessageTypeMap, MessageTypeName, RegisterOptions, RegisterResult, RetryOptions, TextContent,
  TypedMessage, TypedMessageOf,
} from './types';
export type {
  ConversationSummary, CursorEvent, DirectoryUser, ErrorBody, ErrorCode, JsonObject, JsonValue, Message, MessageStatusResult, PresenceResult,
  SendTarget, StatusEvent, UsersResult,
} from 'egg-im-protocol';
