#![no_main]
//! NTLMSSP messages from the network: NEGOTIATE then AUTHENTICATE, never a panic.

use libfuzzer_sys::fuzz_target;

struct NoUsers;

impl smb_auth::Credentials for NoUsers {
    fn nt_hash(&self, user: &str, _domain: &str) -> Option<[u8; 16]> {
        (user == "u").then(|| smb_auth::nt_hash("p"))
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

fuzz_target!(|data: &[u8]| {
    let mut s = smb_auth::NtlmServer::new(id(), [1; 8], 0);
    let _ = s.authenticate(data, &NoUsers);
    let mut s = smb_auth::NtlmServer::new(id(), [1; 8], 0);
    let (a, b) = data.split_at(data.len() / 2);
    let _ = s.challenge(a);
    let _ = s.authenticate(b, &NoUsers);
});
