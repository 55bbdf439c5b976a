//! The codec of the generated servers: tonic's prost codec, except that a request which
//! does not decode (garbage bytes, invalid UTF-8 in a string field, groups nested past
//! prost's recursion limit) is the client's mistake: INVALID_ARGUMENT naming the message
//! the method expects, not tonic's INTERNAL. The clients keep `tonic_prost::ProstCodec`:
//! for them an undecodable response is the server's fault.

use std::marker::PhantomData;

use prost::bytes::Buf;
use prost::{Message, Name};
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::ProstEncoder;

/// Encodes responses `T` with prost; decodes requests `U`, mapping failures to
/// INVALID_ARGUMENT.
#[derive(Debug, Clone, Copy)]
pub struct RequestCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for RequestCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for RequestCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Name + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = RequestDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder(PhantomData)
    }
}

/// Decodes one request message `U`.
#[derive(Debug, Clone, Copy)]
pub struct RequestDecoder<U>(PhantomData<U>);

impl<U: Message + Name + Default> Decoder for RequestDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        decode_request(buf).map(Some)
    }
}

/// Decodes `buf` as a `U`, or says that the request is not one.
pub fn decode_request<U: Message + Name + Default>(buf: impl Buf) -> Result<U, Status> {
    U::decode(buf).map_err(|e| {
        Status::invalid_argument(format!(
            "the request is not a valid {} ({e}); encode it with the stockbell.v1 protos \
             (proto/stockbell/v1/ or gRPC server reflection)",
            U::full_name()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{EventBatch, GetProductRequest};
    use tonic::Code;

    fn refused<U: Message + Name + Default + std::fmt::Debug>(bytes: &[u8]) -> Status {
        match decode_request::<U>(bytes) {
            Ok(m) => panic!("{bytes:?} decoded as {m:?}"),
            Err(s) => s,
        }
    }

    #[test]
    fn undecodable_requests_are_invalid_argument_naming_the_message() {
        let deep: Vec<u8> = [0x9B, 0x06].repeat(100_000); // field 99, start group
        let cases: [&[u8]; 3] = [&[0xFF; 8], &[0x0A, 0x02, 0xC3, 0x28], &deep];
        for bytes in cases {
            let s = refused::<EventBatch>(bytes);
            assert_eq!(s.code(), Code::InvalidArgument, "{}", s.message());
            assert!(
                s.message()
                    .starts_with("the request is not a valid stockbell.v1.EventBatch ("),
                "{}",
                s.message()
            );
            let s = refused::<GetProductRequest>(bytes);
            assert!(
                s.message().contains("stockbell.v1.GetProductRequest"),
                "{}",
                s.message()
            );
        }
    }

    #[test]
    fn valid_requests_decode() {
        let b = EventBatch {
            producer_id: "p".into(),
            sequence: 3,
            events: vec![],
        };
        let got: EventBatch = decode_request(b.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(got, b);
    }
}
