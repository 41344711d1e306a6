//! What the named pipes on IPC$ report: the server and its browseable shares, taken from
//! the catalog in force.

use smb_vfs::Vfs;

use crate::conn::Conn;

const STYPE_DISKTREE: u32 = 0;
const STYPE_IPC: u32 = 3;
const STYPE_SPECIAL: u32 = 0x8000_0000;
/// SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_SERVER_NT | SV_TYPE_NT (an NT file server).
const SERVER_TYPE: u32 = 0x0000_0001 | 0x0000_0002 | 0x0000_8000 | 0x0000_1000;

/// The srvsvc/wkssvc view of this server.
pub(crate) fn server_info<V: Vfs>(c: &Conn<V>) -> smb_rpc::ServerInfo {
    let cat = c.server.catalog();
    let mut shares: Vec<smb_rpc::ShareInfo> = cat
        .shares
        .iter()
        .filter(|s| s.cfg.browseable)
        .map(|s| smb_rpc::ShareInfo {
            name: s.cfg.name.clone(),
            share_type: STYPE_DISKTREE,
            comment: s.cfg.comment.clone(),
            path: format!("C:{}", s.cfg.path.display().to_string().replace('/', "\\")),
            max_uses: u32::MAX,
            current_uses: 0,
        })
        .collect();
    shares.push(smb_rpc::ShareInfo {
        name: "IPC$".into(),
        share_type: STYPE_IPC | STYPE_SPECIAL,
        comment: "IPC Service".into(),
        path: String::new(),
        max_uses: u32::MAX,
        current_uses: 0,
    });
    smb_rpc::ServerInfo {
        netbios_name: cat.server_name.clone(),
        domain: cat.workgroup.clone(),
        comment: cat.comment.clone(),
        version_major: 10,
        version_minor: 0,
        server_type: SERVER_TYPE,
        shares,
    }
}
