#![no_main]
//! NTLMSSP messages from the network, never a panic: the input as a NEGOTIATE, as an
//! AUTHENTICATE after a well-formed NEGOTIATE, and split in two as a whole exchange.

use libfuzzer_sys::fuzz_target;

struct OneUser;

impl smb_auth::Credentials for OneUser {
    fn nt_hash(&self, user: &str, _domain: &str) -> Option<[u8; 16]> {
        user.eq_ignore_ascii_case("u").then(|| smb_auth::nt_hash("p"))
    }
}

fn id() -> smb_auth::ServerIdentity {
    smb_auth::ServerIdentity {
        netbios_name: "NAS".into(),
        netbios_domain: "WORKGROUP".into(),
        dns_name: "nas".into(),
        dns_domain: String::new(),
    }
}

/// A NEGOTIATE offering everything a Windows client does (flags 0xe2088297).
const NEGOTIATE: &[u8] = b"NTLMSSP\0\x01\0\0\0\x97\x82\x08\xe2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x0a\0\x61\x4a\0\0\0\x0f";

fuzz_target!(|data: &[u8]| {
    let mut s = smb_auth::NtlmServer::new(id(), [1; 8], 0);
    let _ = s.challenge(data);

    let mut s = smb_auth::NtlmServer::new(id(), [1; 8], 0);
    if s.challenge(NEGOTIATE).is_ok() && s.authenticate(data, &OneUser).is_ok() {
        if let Some(sec) = s.session_security() {
            let _ = sec.verify(data, data);
        }
    }

    let mut s = smb_auth::NtlmServer::new(id(), [1; 8], 0);
    let (a, b) = data.split_at(data.len() / 2);
    let _ = s.challenge(a);
    let _ = s.authenticate(b, &OneUser);
});
