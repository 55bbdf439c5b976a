//! The stockbell.v1 gRPC API: messages and tonic clients/servers generated at build time
//! from `proto/stockbell/v1/*.proto` by a pure-Rust protobuf compiler, and [`auth`]: the
//! bearer-token interceptor and client types every stockbell client uses.

#![allow(clippy::derive_partial_eq_without_eq)]

pub mod auth;
pub mod codec;
pub mod tls;

/// Package `stockbell.v1`.
pub mod v1 {
    // Messages and servers.
    tonic::include_proto!("stockbell.v1");
    // Clients (generated apart: they keep tonic's prost codec).
    include!(concat!(env!("OUT_DIR"), "/client/stockbell.v1.rs"));
}

/// Encoded `FileDescriptorSet` of the API, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("stockbell_descriptor");
