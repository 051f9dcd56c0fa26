//! The messages of `proto/dnstap.proto` (dnstap.pb at 687347e, CC0; its licence beside it)
//! that ferrodns sends, as prost messages: the fields it sets, with the schema's tags and
//! types. A field left out here (`Policy`, `http_protocol`) is one ferrodns never writes. The
//! query path does not build these: it writes the same fields itself (`encode`); the tests
//! decode what it wrote with them.

/// `dnstap.Dnstap`: the top-level frame payload.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dnstap {
    /// The server's identity (`identity`, else the host name).
    #[prost(bytes = "bytes", optional, tag = "1")]
    pub identity: Option<prost::bytes::Bytes>,
    /// The server's version (`version`, else `CoreDNS-1.14.7` as CoreDNS sends its own).
    #[prost(bytes = "bytes", optional, tag = "2")]
    pub version: Option<prost::bytes::Bytes>,
    /// The `extra` text.
    #[prost(bytes = "bytes", optional, tag = "3")]
    pub extra: Option<prost::bytes::Bytes>,
    /// Always `MESSAGE` (1).
    #[prost(enumeration = "DnstapType", required, tag = "15")]
    pub r#type: i32,
    /// The message.
    #[prost(message, optional, tag = "14")]
    pub message: Option<Message>,
}

/// `dnstap.Dnstap.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DnstapType {
    /// A `Message`.
    Message = 1,
}

/// `dnstap.SocketFamily`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SocketFamily {
    /// IPv4.
    Inet = 1,
    /// IPv6.
    Inet6 = 2,
}

/// `dnstap.SocketProtocol` (the values ferrodns uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SocketProtocol {
    /// DNS over UDP.
    Udp = 1,
    /// DNS over TCP.
    Tcp = 2,
    /// DNS over TLS.
    Dot = 3,
}

/// `dnstap.Message.Type` (the values ferrodns uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MessageType {
    /// A client's query.
    ClientQuery = 5,
    /// The response to a client.
    ClientResponse = 6,
    /// A query sent upstream.
    ForwarderQuery = 7,
    /// An upstream's response.
    ForwarderResponse = 8,
}

/// `dnstap.Message`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    /// What it is.
    #[prost(enumeration = "MessageType", required, tag = "1")]
    pub r#type: i32,
    /// IPv4 or IPv6.
    #[prost(enumeration = "SocketFamily", optional, tag = "2")]
    pub socket_family: Option<i32>,
    /// UDP, TCP, TLS.
    #[prost(enumeration = "SocketProtocol", optional, tag = "3")]
    pub socket_protocol: Option<i32>,
    /// The querier's address: 4 or 16 octets.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub query_address: Option<Vec<u8>>,
    /// The responder's address.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub response_address: Option<Vec<u8>>,
    /// The querier's port.
    #[prost(uint32, optional, tag = "6")]
    pub query_port: Option<u32>,
    /// The responder's port.
    #[prost(uint32, optional, tag = "7")]
    pub response_port: Option<u32>,
    /// When the query was sent or received: seconds since the epoch.
    #[prost(uint64, optional, tag = "8")]
    pub query_time_sec: Option<u64>,
    /// ... and nanoseconds.
    #[prost(fixed32, optional, tag = "9")]
    pub query_time_nsec: Option<u32>,
    /// The query in wire form.
    #[prost(bytes = "vec", optional, tag = "10")]
    pub query_message: Option<Vec<u8>>,
    /// When the response was sent or received: seconds since the epoch.
    #[prost(uint64, optional, tag = "12")]
    pub response_time_sec: Option<u64>,
    /// ... and nanoseconds.
    #[prost(fixed32, optional, tag = "13")]
    pub response_time_nsec: Option<u32>,
    /// The response in wire form.
    #[prost(bytes = "vec", optional, tag = "14")]
    pub response_message: Option<Vec<u8>>,
}
