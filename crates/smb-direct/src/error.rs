//! Why a connection ends.

use std::time::Duration;

use crate::credits::CreditError;
use crate::data::DataError;
use crate::negotiate::NegotiateError;
use crate::reassembly::ReassemblyError;

/// The reason an SMB Direct connection must be torn down. Everything the peer can send
/// wrongly ends here (the transport logs it with the peer's address and disconnects); there
/// is no per-message error in MS-SMBD.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Disconnect {
    #[error("negotiate: {0}")]
    Negotiate(#[from] NegotiateError),
    #[error("data transfer message: {0}")]
    Data(#[from] DataError),
    #[error("reassembly: {0}")]
    Reassembly(#[from] ReassemblyError),
    #[error("credits: {0}")]
    Credits(#[from] CreditError),
    #[error("message of {len} bytes exceeds MaxReceiveSize {max}")]
    PacketTooLarge { len: usize, max: u32 },
    #[error("message received before the negotiate request was sent")]
    UnexpectedMessage,
    #[error("negotiation did not complete within {0:?}")]
    NegotiateTimeout(Duration),
    #[error("no message from the peer within {0:?} of a keepalive")]
    KeepaliveTimeout(Duration),
    #[error("messages queued but no send credit for {0:?}")]
    SendStalled(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_display_the_violation() {
        let d = Disconnect::from(NegotiateError::MaxFragmentedSizeTooSmall(4096));
        assert_eq!(
            d.to_string(),
            "negotiate: MaxFragmentedSize 4096 is below 131072"
        );
        let d = Disconnect::from(CreditError::NoReceiveCredit);
        assert_eq!(
            d.to_string(),
            "credits: peer sent a message without holding a receive credit"
        );
        let d = Disconnect::PacketTooLarge {
            len: 9000,
            max: 8192,
        };
        assert_eq!(
            d.to_string(),
            "message of 9000 bytes exceeds MaxReceiveSize 8192"
        );
        let d = Disconnect::KeepaliveTimeout(Duration::from_secs(5));
        assert_eq!(
            d.to_string(),
            "no message from the peer within 5s of a keepalive"
        );
    }
}
