//! Syslog receivers: UDP, one message per datagram (RFC 5426), and TCP, many connections at
//! once, each cut into frames by octet counting or by lines, detected per frame (RFC 6587).
//! The MSG part of each message is read by the listener's format; a mapping without a
//! timestamp of its own takes the syslog header's, else the time of receipt.

use std::sync::Arc;

use detect::syslog::{self, framing, FrameDecoder, Framing};
use stix::Timestamp;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::format::EventFormat;
use super::pipeline::{Intake, Queued, Refusal};

/// The largest message accepted: RFC 5425 asks receivers to take at least 8 KiB; sensors
/// that send JSON payloads write more.
const MAX_MESSAGE: usize = 64 * 1024;
/// Connections served at once; further ones wait to be accepted.
const MAX_CONNECTIONS: usize = 1024;

/// One message, parsed and normalised.
fn message(format: &EventFormat, bytes: &[u8]) -> Queued {
    let received = Timestamp::now();
    let event = match syslog::parse(bytes, received) {
        Ok(message) => format
            .normalise(&message.msg, message.timestamp.unwrap_or(received))
            .map_err(|e| Refusal::normalise(&e, &message.msg)),
        Err(e) => Err(Refusal::new(
            "syslog",
            e.to_string(),
            &super::event_text(bytes),
        )),
    };
    Queued {
        event,
        read_to: None,
    }
}

/// Receives datagrams until aborted. UDP cannot push back: when matching falls behind and
/// the queue is full, datagrams are dropped and counted.
pub(crate) async fn udp(socket: UdpSocket, format: EventFormat, intake: Intake) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, _)) => intake.offer(message(&format, framing::datagram(&buf[..n]))),
            Err(e) => tracing::warn!(error = %e, "syslog datagram not received"),
        }
    }
}

/// Accepts connections until aborted; aborting it closes them all.
pub(crate) async fn tcp(listener: TcpListener, format: EventFormat, intake: Intake) {
    let format = Arc::new(format);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _)) => {
                let (format, intake) = (format.clone(), intake.clone());
                connections.spawn(async move {
                    connection(stream, &format, &intake).await;
                    drop(slot);
                });
            }
            Err(e) => tracing::warn!(error = %e, "syslog connection not accepted"),
        }
    }
}

/// Reads one connection's frames. While the queue is full it stops reading, so the
/// sender's TCP window fills and it slows down.
async fn connection(stream: TcpStream, format: &EventFormat, intake: &Intake) {
    let mut decoder = FrameDecoder::new(Framing::Detect, MAX_MESSAGE);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if stream.readable().await.is_err() {
            break;
        }
        let n = match stream.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => break,
        };
        decoder.push(&buf[..n]);
        while let Some(frame) = decoder.next_frame() {
            let item = match frame {
                Ok(bytes) => message(format, bytes),
                Err(e) => framing_refusal(e),
            };
            if !intake.send(item).await {
                return;
            }
        }
    }
    let last = match decoder.finish() {
        Some(Ok(bytes)) => message(format, &bytes),
        Some(Err(e)) => framing_refusal(e),
        None => return,
    };
    intake.send(last).await;
}

fn framing_refusal(e: framing::FramingError) -> Queued {
    Queued {
        event: Err(Refusal::new("framing", e.to_string(), "")),
        read_to: None,
    }
}
