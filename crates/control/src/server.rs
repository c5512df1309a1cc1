//! The console server: one thread accepts, one thread per connection
//! (at most `max_connections`, by default [`MAX_CONNECTIONS`]) opens each message and passes the line
//! to the control thread, which owns the Lua state, then seals the reply.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Sender, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use netmask::NetmaskGroup;

use crate::channel::{Channel, Key};

/// Concurrent console connections unless configured (dnsdist's default;
/// `setConsoleMaximumConcurrentConnections`).
pub const MAX_CONNECTIONS: usize = 100;

/// A console line for the control thread to run.
pub struct Command {
    pub line: String,
    /// Who sent it (for the log).
    pub from: SocketAddr,
    /// Where the output goes.
    pub reply: SyncSender<String>,
}

/// Listens on `addr` and sends every console line to `commands`; more
/// than `max_connections` at once are closed as they come.
pub fn start(
    addr: SocketAddr,
    key: Key,
    (acl, max_connections): (NetmaskGroup, usize),
    commands: Sender<Command>,
) -> io::Result<()> {
    let listener = TcpListener::bind(addr).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen for the console on {addr}: {e}"),
        )
    })?;
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("console".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let Ok(peer) = stream.peer_addr() else {
                    continue;
                };
                if !acl.contains(peer.ip()) || active.load(Ordering::Relaxed) >= max_connections {
                    continue; // dropped: closed at once
                }
                active.fetch_add(1, Ordering::Relaxed);
                let (key, commands, slot) = (key.clone(), commands.clone(), active.clone());
                let spawned = std::thread::Builder::new()
                    .name("console-conn".into())
                    .spawn(move || {
                        let _ = session(stream, peer, &key, &commands);
                        slot.fetch_sub(1, Ordering::Relaxed);
                    });
                if spawned.is_err() {
                    active.fetch_sub(1, Ordering::Relaxed);
                }
            }
        })?;
    Ok(())
}

fn session(
    mut stream: TcpStream,
    peer: SocketAddr,
    key: &Key,
    commands: &Sender<Command>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // Until a message opens with the key, a peer gets 10 seconds and no
    // keep-alives: otherwise idle strangers hold the console's slots.
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut channel = Channel::server(&mut stream, key)?;
    let mut authenticated = false;
    loop {
        let received = channel.receive(&mut stream)?;
        if !authenticated {
            if received.is_none() {
                return Err(io::Error::other(
                    "keep-alive before any authenticated message",
                ));
            }
            authenticated = true;
            // A console client that goes quiet for an hour is gone.
            stream.set_read_timeout(Some(Duration::from_secs(3600)))?;
        }
        let Some(line) = received else {
            // A zero-length frame gets one back.
            io::Write::write_all(&mut stream, &[0, 0, 0, 0])?;
            continue;
        };
        let line = String::from_utf8_lossy(&line).into_owned();
        let (tx, rx) = sync_channel(1);
        commands
            .send(Command {
                line,
                from: peer,
                reply: tx,
            })
            .map_err(|_| io::Error::other("the control thread is gone"))?;
        let output = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| "Error: the command did not finish within 60 seconds\n".into());
        channel.send(&mut stream, output.as_bytes())?;
    }
}
