//! Reading sysfs files and directories, bounded and without panics.

use std::io::{self, Read};
use std::path::Path;

/// Largest attribute we read (sysfs attributes are at most a page).
const MAX_ATTR: u64 = 64 * 1024;

/// The text of one attribute. Errors keep the kernel's reason (`Invalid argument` is how
/// sysfs says "no value").
pub(crate) fn read_attr(path: &Path) -> io::Result<String> {
    let f = std::fs::File::open(path)?;
    let mut s = String::new();
    f.take(MAX_ATTR).read_to_string(&mut s)?;
    Ok(s)
}

/// The entry names of a directory, sorted; `Ok(None)` when it does not exist. Names that
/// are not UTF-8 are skipped (no netdev or RDMA device can have one).
pub(crate) fn list_dir(path: &Path) -> io::Result<Option<Vec<String>>> {
    let rd = match std::fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e?;
        if let Ok(name) = e.file_name().into_string() {
            out.push(name);
        }
    }
    out.sort();
    Ok(Some(out))
}

/// The last component of a symlink's target (`master -> ../../br0` gives `br0`).
pub(crate) fn link_name(path: &Path) -> Option<String> {
    let target = std::fs::read_link(path).ok()?;
    target.file_name()?.to_str().map(str::to_string)
}
