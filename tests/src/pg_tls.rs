//! A TLS front for a PostgreSQL server that speaks only plain TCP (as the one on these machines
//! does): it answers the client's `SSLRequest` with `S`, completes the TLS handshake with a
//! `localhost` certificate from a CA generated here, and relays the decrypted protocol to the
//! server. So `sslmode=require`, certificate checks included, is tested against a real server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::server::tls_server_config;

/// The `SSLRequest` message: length 8, then the code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

pub struct PgTlsFront {
    pub addr: SocketAddr,
    /// PEM of the CA that signed the front's certificate: what a client must trust.
    pub ca_pem: String,
    sessions: Arc<AtomicUsize>,
}

impl PgTlsFront {
    /// Starts on an ephemeral loopback port in front of `server`; stops when the runtime does.
    pub async fn start(server: SocketAddr) -> PgTlsFront {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let (config, ca_pem) = tls_server_config(Vec::new());
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let sessions = Arc::new(AtomicUsize::new(0));
        let counted = sessions.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), counted.clone());
                // A client that does not ask for TLS, or fails the handshake, is dropped.
                tokio::spawn(async move { relay(stream, acceptor, server, &counted).await });
            }
        });
        PgTlsFront {
            addr,
            ca_pem,
            sessions,
        }
    }

    /// Connections that completed the TLS handshake.
    pub fn sessions(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }
}

async fn relay(
    mut client: TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    server: SocketAddr,
    sessions: &AtomicUsize,
) -> std::io::Result<()> {
    let mut first = [0u8; 8];
    client.read_exact(&mut first).await?;
    if first != SSL_REQUEST {
        return Err(std::io::Error::other("the client did not ask for TLS"));
    }
    client.write_all(b"S").await?;
    let mut tls = acceptor.accept(client).await?;
    sessions.fetch_add(1, Ordering::SeqCst);
    let mut upstream = TcpStream::connect(server).await?;
    tokio::io::copy_bidirectional(&mut tls, &mut upstream).await?;
    Ok(())
}
