//! Local limits and timers of an SMB Direct connection.

use std::time::Duration;

use crate::{DATA_OFFSET, MIN_FRAGMENTED_SIZE, MIN_RECEIVE_SIZE};

/// What this side offers and enforces. The defaults are the values Windows uses
/// (MS-SMBD Appendix B) plus the 8 MiB RDMA read/write size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Connection.ReceiveCreditMax: at most this many receives posted, and credits granted.
    pub receive_credit_max: u16,
    /// Connection.SendCreditTarget: the send credits we ask the peer for.
    pub send_credit_target: u16,
    /// Connection.MaxSendSize: the largest data transfer message we send (header included).
    pub max_send_size: u32,
    /// Connection.MaxReceiveSize: the size of each posted receive buffer.
    pub max_receive_size: u32,
    /// Connection.MaxFragmentedRecvSize: the largest upper-layer message we reassemble.
    pub max_fragmented_size: u32,
    /// Connection.MaxReadWriteSize: the largest RDMA read/write we do for one request.
    pub max_read_write_size: u32,
    /// Idle Connection Timer: with nothing received for this long, send a keepalive.
    pub keepalive_interval: Duration,
    /// How long to wait for any message after a keepalive before disconnecting.
    pub keepalive_timeout: Duration,
    /// How long the negotiate exchange may take from the connection's creation.
    pub negotiate_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            receive_credit_max: 255,
            send_credit_target: 255,
            max_send_size: 1364,
            max_receive_size: 8192,
            max_fragmented_size: 1024 * 1024,
            max_read_write_size: 8 * 1024 * 1024,
            keepalive_interval: Duration::from_secs(120),
            keepalive_timeout: Duration::from_secs(5),
            negotiate_timeout: Duration::from_secs(20),
        }
    }
}

/// A local configuration this implementation cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("receive_credit_max must be at least 2")]
    TooFewReceiveCredits,
    #[error("send_credit_target must be at least 2")]
    TooFewSendCredits,
    #[error("max_send_size {0} must exceed the {DATA_OFFSET}-byte data header and be at least {MIN_RECEIVE_SIZE}")]
    SendSizeTooSmall(u32),
    #[error("max_receive_size {0} must be at least {MIN_RECEIVE_SIZE}")]
    ReceiveSizeTooSmall(u32),
    #[error("max_fragmented_size {0} must be at least {MIN_FRAGMENTED_SIZE}")]
    FragmentedSizeTooSmall(u32),
    #[error("max_read_write_size must be at least 1")]
    NoReadWrite,
}

impl Config {
    /// Checks the limits the protocol itself imposes on our own side.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // One credit is not enough: the last send credit may only be spent granting one,
        // so a side that can hold or grant only one at a time stalls or bounces messages.
        if self.receive_credit_max < 2 {
            return Err(ConfigError::TooFewReceiveCredits);
        }
        if self.send_credit_target < 2 {
            return Err(ConfigError::TooFewSendCredits);
        }
        if self.max_send_size < MIN_RECEIVE_SIZE {
            return Err(ConfigError::SendSizeTooSmall(self.max_send_size));
        }
        if self.max_receive_size < MIN_RECEIVE_SIZE {
            return Err(ConfigError::ReceiveSizeTooSmall(self.max_receive_size));
        }
        if self.max_fragmented_size < MIN_FRAGMENTED_SIZE {
            return Err(ConfigError::FragmentedSizeTooSmall(
                self.max_fragmented_size,
            ));
        }
        if self.max_read_write_size == 0 {
            return Err(ConfigError::NoReadWrite);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_appendix_b() {
        let c = Config::default();
        assert_eq!(c.receive_credit_max, 255);
        assert_eq!(c.send_credit_target, 255);
        assert_eq!(c.max_send_size, 1364);
        assert_eq!(c.max_receive_size, 8192);
        assert_eq!(c.max_fragmented_size, 1 << 20);
        assert_eq!(c.keepalive_interval, Duration::from_secs(120));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn each_limit_is_checked() {
        let bad = |f: fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            c.validate()
        };
        assert_eq!(
            bad(|c| c.receive_credit_max = 1),
            Err(ConfigError::TooFewReceiveCredits)
        );
        assert_eq!(
            bad(|c| c.send_credit_target = 1),
            Err(ConfigError::TooFewSendCredits)
        );
        assert_eq!(
            bad(|c| c.max_send_size = 127),
            Err(ConfigError::SendSizeTooSmall(127))
        );
        assert_eq!(
            bad(|c| c.max_receive_size = 100),
            Err(ConfigError::ReceiveSizeTooSmall(100))
        );
        assert_eq!(
            bad(|c| c.max_fragmented_size = 131_071),
            Err(ConfigError::FragmentedSizeTooSmall(131_071))
        );
        assert_eq!(
            bad(|c| c.max_read_write_size = 0),
            Err(ConfigError::NoReadWrite)
        );
    }
}
