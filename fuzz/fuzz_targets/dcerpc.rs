#![no_main]
//! DCE/RPC PDUs written to a named pipe: arbitrary bytes, split at arbitrary points, never a
//! panic; the pipe's output stays bounded.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let info = smb_rpc::ServerInfo {
        netbios_name: "NAS".into(),
        domain: "WORKGROUP".into(),
        comment: "fuzz".into(),
        version_major: 10,
        version_minor: 0,
        server_type: 0x9003,
        shares: vec![smb_rpc::ShareInfo {
            name: "data".into(),
            share_type: 0,
            comment: String::new(),
            path: "/srv/data".into(),
            max_uses: u32::MAX,
            current_uses: 0,
        }],
    };
    for kind in [smb_rpc::PipeKind::Srvsvc, smb_rpc::PipeKind::Wkssvc] {
        let mut pipe = smb_rpc::Pipe::new(kind);
        let cut = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
        let (a, b) = data.split_at(cut);
        if pipe.write(a, &info).is_ok() {
            let _ = pipe.write(b, &info);
        }
        while pipe.has_output() {
            let (out, _more) = pipe.read(4280);
            if out.is_empty() {
                break;
            }
        }
    }
});
