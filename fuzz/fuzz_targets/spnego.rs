#![no_main]
//! SPNEGO tokens from the network, never a panic: the input alone, and split in three as a
//! whole conversation (negTokenInit, negTokenResp, and one more after the end).

use libfuzzer_sys::fuzz_target;

struct OneUser;

impl smb_auth::Credentials for OneUser {
    fn nt_hash(&self, user: &str, _domain: &str) -> Option<[u8; 16]> {
        user.eq_ignore_ascii_case("u").then(|| smb_auth::nt_hash("p"))
    }
}

fn server() -> smb_auth::SpnegoServer {
    let id = smb_auth::ServerIdentity {
        netbios_name: "NAS".into(),
        netbios_domain: "WORKGROUP".into(),
        dns_name: "nas".into(),
        dns_domain: String::new(),
    };
    smb_auth::SpnegoServer::new(id, [2; 8], 0)
}

fuzz_target!(|data: &[u8]| {
    let _ = server().step(data, &OneUser);

    let mut s = server();
    let (a, rest) = data.split_at(data.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    let _ = s.step(a, &OneUser);
    let _ = s.step(b, &OneUser);
    let _ = s.step(c, &OneUser);
});
