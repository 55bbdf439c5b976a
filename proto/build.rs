//! Compiles the stockbell.v1 protos with protox (pure Rust), so no system `protoc` is needed.
//!
//! Two passes over the same descriptors: the messages and the servers, whose codec
//! ([`crate::codec::RequestCodec`]) answers an undecodable request INVALID_ARGUMENT; then
//! the clients alone (into `client/`), referring to those messages and keeping tonic's
//! prost codec, for which an undecodable *response* is the server's fault (INTERNAL).

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "proto/stockbell/v1/common.proto",
    "proto/stockbell/v1/ingest.proto",
    "proto/stockbell/v1/admin.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("stockbell_descriptor.bin"), fds.encode_to_vec())?;

    // Messages (with `prost::Name`, so the codec can name them) and servers.
    let mut messages = prost_build::Config::new();
    messages.enable_type_names();
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .codec_path("crate::codec::RequestCodec")
        .compile_fds_with_config(fds.clone(), messages)?;

    // Clients only: the messages are the ones above.
    let client_dir = out.join("client");
    std::fs::create_dir_all(&client_dir)?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .extern_path(".stockbell.v1", "crate::v1")
        .out_dir(&client_dir)
        .compile_fds(fds)?;
    Ok(())
}
