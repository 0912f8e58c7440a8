//! The exact `-ERR` texts nats-server sends, in one place so that every
//! layer uses the reference's wording (including its lower-case ones).

pub const UNKNOWN_PROTOCOL_OPERATION: &str = "Unknown Protocol Operation";
pub const MAX_CONTROL_LINE_EXCEEDED: &str = "maximum control line exceeded";
pub const MAX_PAYLOAD_VIOLATION: &str = "Maximum Payload Violation";
pub const MAX_CONNECTIONS_EXCEEDED: &str = "maximum connections exceeded";
pub const MAX_SUBSCRIPTIONS_EXCEEDED: &str = "maximum subscriptions exceeded";
pub const INVALID_SUBJECT: &str = "Invalid Subject";
/// To a route peer whose interest names an invalid subject.
pub const INVALID_SUBSCRIPTION: &str = "Invalid Subscription";
pub const INVALID_PUBLISH_SUBJECT: &str = "Invalid Publish Subject";
pub const STALE_CONNECTION: &str = "Stale Connection";
pub const NO_RESPONDERS_REQUIRES_HEADERS: &str = "no responders requires headers support";
pub const AUTHORIZATION_VIOLATION: &str = "Authorization Violation";
pub const AUTHENTICATION_TIMEOUT: &str = "Authentication Timeout";
pub const SECURE_CONNECTION_TLS_REQUIRED: &str = "Secure Connection - TLS Required";
pub const ATTEMPTED_TO_CONNECT_TO_ROUTE_PORT: &str = "attempted to connect to route port";
