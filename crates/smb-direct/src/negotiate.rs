//! Negotiate request and response (MS-SMBD 2.2.1, 2.2.2), their validation (3.1.5.6 for the
//! listening side, 3.1.5.7 for the initiator) and the parameters both sides then run with.

use crate::config::Config;
use crate::wire::{le16, le32};
use crate::{
    MIN_FRAGMENTED_SIZE, MIN_RECEIVE_SIZE, NEGOTIATE_REQUEST_LEN, NEGOTIATE_RESPONSE_LEN,
    SMBD_VERSION_1,
};

/// The first message of a connection, sent by the initiator (MS-SMBD 2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiateRequest {
    pub min_version: u16,
    pub max_version: u16,
    /// Send credits the initiator asks for (its SendCreditTarget).
    pub credits_requested: u16,
    /// The largest message the initiator wants to send.
    pub preferred_send_size: u32,
    /// The largest message the initiator can receive.
    pub max_receive_size: u32,
    /// The largest upper-layer message the initiator reassembles.
    pub max_fragmented_size: u32,
}

/// The answer of the listening side (MS-SMBD 2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiateResponse {
    pub min_version: u16,
    pub max_version: u16,
    pub negotiated_version: u16,
    pub credits_requested: u16,
    pub credits_granted: u16,
    /// An NTSTATUS; 0 is success.
    pub status: u32,
    pub max_read_write_size: u32,
    pub preferred_send_size: u32,
    pub max_receive_size: u32,
    pub max_fragmented_size: u32,
}

/// Why a negotiate message was refused. Every one of them ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NegotiateError {
    #[error("negotiate message of {len} bytes, at least {need} required")]
    TooShort { len: usize, need: usize },
    #[error("version range {min:#06x}..={max:#06x} does not include 0x0100")]
    VersionNotSupported { min: u16, max: u16 },
    #[error("CreditsRequested is 0")]
    ZeroCreditsRequested,
    #[error("CreditsGranted is 0")]
    ZeroCreditsGranted,
    #[error("MaxReceiveSize {0} is below 128")]
    MaxReceiveSizeTooSmall(u32),
    #[error("MaxFragmentedSize {0} is below 131072")]
    MaxFragmentedSizeTooSmall(u32),
    #[error("NegotiatedVersion {0:#06x} is not 0x0100")]
    BadNegotiatedVersion(u16),
    #[error("PreferredSendSize {size} exceeds our MaxReceiveSize {max}")]
    PreferredSendSizeTooLarge { size: u32, max: u32 },
    #[error("negotiate failed with status {0:#010x}")]
    Status(u32),
}

/// The parameters a connection runs with once negotiation succeeded (MS-SMBD 3.1.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Always [`SMBD_VERSION_1`].
    pub version: u16,
    /// The largest data transfer message we send, header included.
    pub max_send_size: u32,
    /// The largest data transfer message we accept, header included.
    pub max_receive_size: u32,
    /// The largest upper-layer message the peer reassembles (what we may send).
    pub max_fragmented_send_size: u32,
    /// The largest upper-layer message we reassemble.
    pub max_fragmented_recv_size: u32,
    /// The largest RDMA read or write for one upper-layer request.
    pub max_read_write_size: u32,
    /// The send credits we keep asking the peer for.
    pub send_credit_target: u16,
    /// The receive credits the peer asked for, bounded by our ReceiveCreditMax.
    pub receive_credit_target: u16,
    /// Send credits granted by the negotiate response (0 on the listening side, whose first
    /// credits arrive with the initiator's first data transfer message).
    pub initial_send_credits: u16,
}

impl Negotiated {
    /// The most upper-layer bytes one data transfer message we send can carry.
    pub fn max_send_payload(&self) -> usize {
        usize::try_from(self.max_send_size)
            .unwrap_or(usize::MAX)
            .saturating_sub(crate::DATA_OFFSET)
    }
}

impl NegotiateRequest {
    /// A request offering exactly version 1.0 with our limits (3.1.5.2).
    pub fn from_config(cfg: &Config) -> Self {
        NegotiateRequest {
            min_version: SMBD_VERSION_1,
            max_version: SMBD_VERSION_1,
            credits_requested: cfg.send_credit_target,
            preferred_send_size: cfg.max_send_size,
            max_receive_size: cfg.max_receive_size,
            max_fragmented_size: cfg.max_fragmented_size,
        }
    }

    /// Parses a request. Only the length is checked here (3.1.5.6: at least 20 bytes;
    /// trailing bytes are ignored); the field rules are [`NegotiateRequest::validate`].
    pub fn decode(buf: &[u8]) -> Result<Self, NegotiateError> {
        let short = NegotiateError::TooShort {
            len: buf.len(),
            need: NEGOTIATE_REQUEST_LEN,
        };
        if buf.len() < NEGOTIATE_REQUEST_LEN {
            return Err(short);
        }
        Ok(NegotiateRequest {
            min_version: le16(buf, 0).ok_or(short)?,
            max_version: le16(buf, 2).ok_or(short)?,
            // 4..6 is Reserved: ignored on receipt.
            credits_requested: le16(buf, 6).ok_or(short)?,
            preferred_send_size: le32(buf, 8).ok_or(short)?,
            max_receive_size: le32(buf, 12).ok_or(short)?,
            max_fragmented_size: le32(buf, 16).ok_or(short)?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(NEGOTIATE_REQUEST_LEN);
        out.extend_from_slice(&self.min_version.to_le_bytes());
        out.extend_from_slice(&self.max_version.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&self.credits_requested.to_le_bytes());
        out.extend_from_slice(&self.preferred_send_size.to_le_bytes());
        out.extend_from_slice(&self.max_receive_size.to_le_bytes());
        out.extend_from_slice(&self.max_fragmented_size.to_le_bytes());
        out
    }

    /// 3.1.5.6: the range MinVersion..=MaxVersion must include 0x0100. A range with
    /// MinVersion above MaxVersion includes nothing.
    pub fn offers_v1(&self) -> bool {
        (self.min_version..=self.max_version).contains(&SMBD_VERSION_1)
    }

    /// 3.1.5.6: the checks after the version check; any failure terminates the connection.
    pub fn validate(&self) -> Result<(), NegotiateError> {
        if !self.offers_v1() {
            return Err(NegotiateError::VersionNotSupported {
                min: self.min_version,
                max: self.max_version,
            });
        }
        if self.credits_requested == 0 {
            return Err(NegotiateError::ZeroCreditsRequested);
        }
        if self.max_receive_size < MIN_RECEIVE_SIZE {
            return Err(NegotiateError::MaxReceiveSizeTooSmall(
                self.max_receive_size,
            ));
        }
        if self.max_fragmented_size < MIN_FRAGMENTED_SIZE {
            return Err(NegotiateError::MaxFragmentedSizeTooSmall(
                self.max_fragmented_size,
            ));
        }
        Ok(())
    }

    /// The listening side's parameters for a validated request (3.1.5.6 and 3.1.5.3).
    pub fn accept(&self, cfg: &Config) -> Result<Negotiated, NegotiateError> {
        self.validate()?;
        Ok(Negotiated {
            version: SMBD_VERSION_1,
            max_send_size: cfg.max_send_size.min(self.max_receive_size),
            max_receive_size: cfg
                .max_receive_size
                .min(self.preferred_send_size)
                .max(MIN_RECEIVE_SIZE),
            max_fragmented_send_size: self.max_fragmented_size,
            max_fragmented_recv_size: cfg.max_fragmented_size,
            max_read_write_size: cfg.max_read_write_size,
            send_credit_target: cfg.send_credit_target,
            receive_credit_target: self.credits_requested.min(cfg.receive_credit_max),
            initial_send_credits: 0,
        })
    }
}

impl NegotiateResponse {
    /// A successful response for `params`, granting `credits_granted` receive credits (3.1.5.3).
    pub fn success(params: &Negotiated, credits_granted: u16) -> Self {
        NegotiateResponse {
            min_version: SMBD_VERSION_1,
            max_version: SMBD_VERSION_1,
            negotiated_version: params.version,
            credits_requested: params.send_credit_target,
            credits_granted,
            status: 0,
            max_read_write_size: params.max_read_write_size,
            preferred_send_size: params.max_send_size,
            max_receive_size: params.max_receive_size,
            max_fragmented_size: params.max_fragmented_recv_size,
        }
    }

    /// A failure response: versions and status set, everything else zero (3.1.5.3).
    pub fn failure(status: u32) -> Self {
        NegotiateResponse {
            min_version: SMBD_VERSION_1,
            max_version: SMBD_VERSION_1,
            negotiated_version: 0,
            credits_requested: 0,
            credits_granted: 0,
            status,
            max_read_write_size: 0,
            preferred_send_size: 0,
            max_receive_size: 0,
            max_fragmented_size: 0,
        }
    }

    /// Parses a response; only the length is checked (3.1.5.7: at least 32 bytes).
    pub fn decode(buf: &[u8]) -> Result<Self, NegotiateError> {
        let short = NegotiateError::TooShort {
            len: buf.len(),
            need: NEGOTIATE_RESPONSE_LEN,
        };
        if buf.len() < NEGOTIATE_RESPONSE_LEN {
            return Err(short);
        }
        Ok(NegotiateResponse {
            min_version: le16(buf, 0).ok_or(short)?,
            max_version: le16(buf, 2).ok_or(short)?,
            negotiated_version: le16(buf, 4).ok_or(short)?,
            // 6..8 is Reserved.
            credits_requested: le16(buf, 8).ok_or(short)?,
            credits_granted: le16(buf, 10).ok_or(short)?,
            status: le32(buf, 12).ok_or(short)?,
            max_read_write_size: le32(buf, 16).ok_or(short)?,
            preferred_send_size: le32(buf, 20).ok_or(short)?,
            max_receive_size: le32(buf, 24).ok_or(short)?,
            max_fragmented_size: le32(buf, 28).ok_or(short)?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(NEGOTIATE_RESPONSE_LEN);
        out.extend_from_slice(&self.min_version.to_le_bytes());
        out.extend_from_slice(&self.max_version.to_le_bytes());
        out.extend_from_slice(&self.negotiated_version.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&self.credits_requested.to_le_bytes());
        out.extend_from_slice(&self.credits_granted.to_le_bytes());
        out.extend_from_slice(&self.status.to_le_bytes());
        out.extend_from_slice(&self.max_read_write_size.to_le_bytes());
        out.extend_from_slice(&self.preferred_send_size.to_le_bytes());
        out.extend_from_slice(&self.max_receive_size.to_le_bytes());
        out.extend_from_slice(&self.max_fragmented_size.to_le_bytes());
        out
    }

    /// 3.1.5.7, as the initiator whose own MaxReceiveSize is `our_max_receive_size`.
    pub fn validate(&self, our_max_receive_size: u32) -> Result<(), NegotiateError> {
        if self.status != 0 {
            return Err(NegotiateError::Status(self.status));
        }
        if self.negotiated_version != SMBD_VERSION_1 {
            return Err(NegotiateError::BadNegotiatedVersion(
                self.negotiated_version,
            ));
        }
        if self.max_receive_size < MIN_RECEIVE_SIZE {
            return Err(NegotiateError::MaxReceiveSizeTooSmall(
                self.max_receive_size,
            ));
        }
        if self.max_fragmented_size < MIN_FRAGMENTED_SIZE {
            return Err(NegotiateError::MaxFragmentedSizeTooSmall(
                self.max_fragmented_size,
            ));
        }
        if self.credits_granted == 0 {
            return Err(NegotiateError::ZeroCreditsGranted);
        }
        if self.credits_requested == 0 {
            return Err(NegotiateError::ZeroCreditsRequested);
        }
        if self.preferred_send_size > our_max_receive_size {
            return Err(NegotiateError::PreferredSendSizeTooLarge {
                size: self.preferred_send_size,
                max: our_max_receive_size,
            });
        }
        Ok(())
    }

    /// The initiator's parameters for a validated response (3.1.5.7).
    pub fn accept(&self, cfg: &Config) -> Result<Negotiated, NegotiateError> {
        self.validate(cfg.max_receive_size)?;
        Ok(Negotiated {
            version: SMBD_VERSION_1,
            max_send_size: cfg.max_send_size.min(self.max_receive_size),
            max_receive_size: cfg
                .max_receive_size
                .min(self.preferred_send_size)
                .max(MIN_RECEIVE_SIZE),
            max_fragmented_send_size: self.max_fragmented_size,
            max_fragmented_recv_size: cfg.max_fragmented_size,
            max_read_write_size: cfg.max_read_write_size.min(self.max_read_write_size),
            send_credit_target: cfg.send_credit_target,
            receive_credit_target: self.credits_requested.min(cfg.receive_credit_max),
            initial_send_credits: self.credits_granted,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The request of MS-SMBD 4.1.
    fn spec_request() -> NegotiateRequest {
        NegotiateRequest {
            min_version: 0x0100,
            max_version: 0x0100,
            credits_requested: 10,
            preferred_send_size: 1024,
            max_receive_size: 1024,
            max_fragmented_size: 128 * 1024,
        }
    }

    #[test]
    fn request_wire_layout() {
        let bytes = spec_request().encode();
        assert_eq!(
            bytes,
            [
                0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04,
                0x00, 0x00, 0x00, 0x00, 0x02, 0x00
            ]
        );
        assert_eq!(NegotiateRequest::decode(&bytes), Ok(spec_request()));
    }

    #[test]
    fn request_reserved_is_ignored_and_trailing_bytes_too() {
        let mut bytes = spec_request().encode();
        bytes[4] = 0xff;
        bytes[5] = 0xee;
        bytes.extend_from_slice(&[1, 2, 3]);
        assert_eq!(NegotiateRequest::decode(&bytes), Ok(spec_request()));
    }

    #[test]
    fn every_truncated_request_is_too_short() {
        let bytes = spec_request().encode();
        for len in 0..bytes.len() {
            assert_eq!(
                NegotiateRequest::decode(&bytes[..len]),
                Err(NegotiateError::TooShort { len, need: 20 }),
            );
        }
    }

    #[test]
    fn response_wire_layout_matches_spec_example() {
        // MS-SMBD 4.1 step 2.
        let r = NegotiateResponse {
            min_version: 0x0100,
            max_version: 0x0100,
            negotiated_version: 0x0100,
            credits_requested: 10,
            credits_granted: 10,
            status: 0,
            max_read_write_size: 0x0010_0000,
            preferred_send_size: 0x400,
            max_receive_size: 0x400,
            max_fragmented_size: 0x0002_0000,
        };
        let bytes = r.encode();
        assert_eq!(bytes.len(), 32);
        assert_eq!(&bytes[0..12], &[0, 1, 0, 1, 0, 1, 0, 0, 10, 0, 10, 0]);
        assert_eq!(&bytes[16..20], &[0, 0, 0x10, 0]);
        assert_eq!(NegotiateResponse::decode(&bytes), Ok(r));
        for len in 0..32 {
            assert_eq!(
                NegotiateResponse::decode(&bytes[..len]),
                Err(NegotiateError::TooShort { len, need: 32 })
            );
        }
    }

    #[test]
    fn version_range_must_include_0x0100() {
        let with = |min, max| NegotiateRequest {
            min_version: min,
            max_version: max,
            ..spec_request()
        };
        assert!(with(0x0100, 0x0100).offers_v1());
        assert!(with(0x0001, 0x0200).offers_v1());
        assert!(!with(0x0101, 0x0200).offers_v1());
        assert!(!with(0x0000, 0x00ff).offers_v1());
        // An inverted range offers nothing.
        assert!(!with(0x0200, 0x0001).offers_v1());
        assert_eq!(
            with(0x0200, 0x0300).validate(),
            Err(NegotiateError::VersionNotSupported {
                min: 0x0200,
                max: 0x0300
            })
        );
    }

    #[test]
    fn request_field_rules() {
        let r = spec_request();
        assert_eq!(r.validate(), Ok(()));
        let zero_credits = NegotiateRequest {
            credits_requested: 0,
            ..r
        };
        assert_eq!(
            zero_credits.validate(),
            Err(NegotiateError::ZeroCreditsRequested)
        );
        let small_recv = NegotiateRequest {
            max_receive_size: 127,
            ..r
        };
        assert_eq!(
            small_recv.validate(),
            Err(NegotiateError::MaxReceiveSizeTooSmall(127))
        );
        let edge_recv = NegotiateRequest {
            max_receive_size: 128,
            ..r
        };
        assert_eq!(edge_recv.validate(), Ok(()));
        let small_frag = NegotiateRequest {
            max_fragmented_size: 131_071,
            ..r
        };
        assert_eq!(
            small_frag.validate(),
            Err(NegotiateError::MaxFragmentedSizeTooSmall(131_071))
        );
    }

    #[test]
    fn server_parameters_from_config_and_request() {
        let cfg = Config::default();
        let p = spec_request().accept(&cfg).unwrap();
        // We send at most what the client can receive.
        assert_eq!(p.max_send_size, 1024);
        // We receive at most what the client prefers to send (SHOULD of 3.1.5.6).
        assert_eq!(p.max_receive_size, 1024);
        assert_eq!(p.max_fragmented_send_size, 128 * 1024);
        assert_eq!(p.max_fragmented_recv_size, 1 << 20);
        assert_eq!(p.max_read_write_size, 8 << 20);
        assert_eq!(p.receive_credit_target, 10);
        assert_eq!(p.send_credit_target, 255);
        assert_eq!(p.initial_send_credits, 0);
        assert_eq!(p.max_send_payload(), 1000);
    }

    #[test]
    fn server_receive_size_never_below_128_and_credits_capped() {
        let cfg = Config {
            receive_credit_max: 16,
            ..Config::default()
        };
        let r = NegotiateRequest {
            preferred_send_size: 20,
            credits_requested: 500,
            max_receive_size: 65536,
            ..spec_request()
        };
        let p = r.accept(&cfg).unwrap();
        assert_eq!(p.max_receive_size, 128);
        assert_eq!(p.receive_credit_target, 16);
        // Our own MaxSendSize bounds what we send even if the client could take more.
        assert_eq!(p.max_send_size, 1364);
    }

    #[test]
    fn response_rules_3_1_5_7() {
        let cfg = Config::default();
        let server = spec_request().accept(&cfg).unwrap();
        let ok = NegotiateResponse::success(&server, 10);
        assert_eq!(ok.validate(8192), Ok(()));
        let cases: [(NegotiateResponse, NegotiateError); 7] = [
            (
                NegotiateResponse {
                    status: STATUS,
                    ..ok
                },
                NegotiateError::Status(STATUS),
            ),
            (
                NegotiateResponse {
                    negotiated_version: 0x0200,
                    ..ok
                },
                NegotiateError::BadNegotiatedVersion(0x0200),
            ),
            (
                NegotiateResponse {
                    max_receive_size: 64,
                    ..ok
                },
                NegotiateError::MaxReceiveSizeTooSmall(64),
            ),
            (
                NegotiateResponse {
                    max_fragmented_size: 4096,
                    ..ok
                },
                NegotiateError::MaxFragmentedSizeTooSmall(4096),
            ),
            (
                NegotiateResponse {
                    credits_granted: 0,
                    ..ok
                },
                NegotiateError::ZeroCreditsGranted,
            ),
            (
                NegotiateResponse {
                    credits_requested: 0,
                    ..ok
                },
                NegotiateError::ZeroCreditsRequested,
            ),
            (
                NegotiateResponse {
                    preferred_send_size: 8193,
                    ..ok
                },
                NegotiateError::PreferredSendSizeTooLarge {
                    size: 8193,
                    max: 8192,
                },
            ),
        ];
        for (resp, err) in cases {
            assert_eq!(resp.validate(8192), Err(err), "{resp:?}");
        }
    }
    const STATUS: u32 = crate::STATUS_NOT_SUPPORTED;

    #[test]
    fn client_parameters_from_response() {
        let cfg = Config {
            max_read_write_size: 1 << 20,
            ..Config::default()
        };
        let resp = NegotiateResponse {
            min_version: 0x0100,
            max_version: 0x0100,
            negotiated_version: 0x0100,
            credits_requested: 300,
            credits_granted: 12,
            status: 0,
            max_read_write_size: 8 << 20,
            preferred_send_size: 1364,
            max_receive_size: 1000,
            max_fragmented_size: 200_000,
        };
        let p = resp.accept(&cfg).unwrap();
        assert_eq!(p.max_send_size, 1000);
        assert_eq!(p.max_receive_size, 1364);
        assert_eq!(p.max_read_write_size, 1 << 20);
        assert_eq!(p.max_fragmented_send_size, 200_000);
        assert_eq!(p.receive_credit_target, 255);
        assert_eq!(p.initial_send_credits, 12);
    }

    #[test]
    fn failure_response_zeroes_everything_but_versions_and_status() {
        let f = NegotiateResponse::failure(crate::STATUS_NOT_SUPPORTED).encode();
        assert_eq!(&f[0..4], &[0, 1, 0, 1]);
        assert_eq!(&f[12..16], &0xC000_00BBu32.to_le_bytes());
        assert!(f[4..12].iter().all(|b| *b == 0));
        assert!(f[16..].iter().all(|b| *b == 0));
    }
}
