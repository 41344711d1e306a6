#![no_main]
//! SPNEGO tokens from the network, alone and as a two-step conversation, never a panic.

use libfuzzer_sys::fuzz_target;

struct NoUsers;

impl smb_auth::Credentials for NoUsers {
    fn nt_hash(&self, _user: &str, _domain: &str) -> Option<[u8; 16]> {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    let id = smb_auth::ServerIdentity {
        netbios_name: "NAS".into(),
        netbios_domain: "WORKGROUP".into(),
        dns_name: "nas".into(),
        dns_domain: String::new(),
    };
    let mut s = smb_auth::SpnegoServer::new(id, [2; 8], 0);
    let (a, b) = data.split_at(data.len() / 3);
    let _ = s.step(a, &NoUsers);
    let _ = s.step(b, &NoUsers);
});
