//! `process.terminal` with `--console-socket`, as the runtime-spec's console-socket protocol
//! says: the runtime connects to the caller's unix socket; the process opens a new terminal in
//! the container's devpts (with [`crate::console`], as `enforce run -t` does), sends the master
//! end over the socket (`SCM_RIGHTS`), and takes the peer end as its controlling terminal and
//! stdio, sized as `process.consoleSize` says.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use super::OciError;
use crate::error::SysError;

/// Connect to the caller's console socket (before anything is made).
pub fn connect(path: &Path) -> Result<OwnedFd, OciError> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| OciError::io(format!("connect to the console socket {}", path.display()), e))?;
    Ok(OwnedFd::from(s))
}

/// Whether the options fit: a terminal needs a console socket, and a socket a terminal.
pub fn check(terminal: bool, socket: Option<&Path>) -> Result<(), OciError> {
    let why = match (terminal, socket.is_some()) {
        (true, false) => "process.terminal is true: give --console-socket to receive the terminal",
        (false, true) => "--console-socket is given but process.terminal is false",
        _ => return Ok(()),
    };
    Err(OciError::Config { field: "process.terminal".into(), why: why.into() })
}

/// In the process, with the container's `/dev` in place: a new terminal, its master end sent
/// over `socket`, its peer end made this process's terminal and stdio.
pub fn attach(socket: &OwnedFd, size: Option<(u16, u16)>) -> Result<(), SysError> {
    let peer = crate::console::open(socket)?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        crate::sys::set_winsize(peer.as_raw_fd(), &ws)?;
    }
    crate::console::take(&peer)
}
