//! The console client (`rampart -c`), which also talks to dnsdist.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::channel::{Channel, Key};

/// A connected console.
pub struct Client {
    stream: TcpStream,
    channel: Channel,
}

impl Client {
    /// Connects and checks the key, as dnsdist's client does: an empty
    /// command first; a server with another key closes the connection.
    pub fn connect(addr: SocketAddr, key: &Key) -> io::Result<Client> {
        let mut stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot connect to the console at {addr}: {e}"),
                )
            })?;
        stream.set_nodelay(true)?;
        // Above the server's 60 s limit per command: never wait forever on
        // something that is not a console.
        stream.set_read_timeout(Some(Duration::from_secs(70)))?;
        let channel = Channel::client(&mut stream, key).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "the console at {addr} closed before the handshake ({e}): is this host in \
                     its setConsoleACL, and is it a console port?"
                ),
            )
        })?;
        let mut client = Client { stream, channel };
        client.command("").map_err(|e| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "the console at {addr} refused the first message ({e}): most likely the key \
                     does not match"
                ),
            )
        })?;
        Ok(client)
    }

    /// Runs one line and returns its output.
    pub fn command(&mut self, line: &str) -> io::Result<String> {
        self.channel.send(&mut self.stream, line.as_bytes())?;
        loop {
            if let Some(reply) = self.channel.receive(&mut self.stream)? {
                return Ok(String::from_utf8_lossy(&reply).into_owned());
            }
        }
    }
}
