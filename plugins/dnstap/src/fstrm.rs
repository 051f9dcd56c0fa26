//! Frame Streams (the framing dnstap travels in), the writer's side of a bidirectional stream,
//! as CoreDNS's dnstap library speaks it to `fstrm_capture`, `dnstap -u`, or a collector:
//!
//! 1. the writer sends READY with the content type `protobuf:dnstap.Dnstap`;
//! 2. the reader answers ACCEPT, listing that content type;
//! 3. the writer sends START with the content type, then one data frame per message (a 32-bit
//!    big-endian length, then the bytes);
//! 4. to finish, the writer sends STOP and waits for FINISH.
//!
//! A control frame is an escape (a zero length), its own length, its type, and its fields
//! (here only CONTENT_TYPE: type 1, length, bytes). Every number is 32-bit big-endian.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// dnstap's content type.
pub const CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";

const ACCEPT: u32 = 0x01;
const START: u32 = 0x02;
const STOP: u32 = 0x03;
const READY: u32 = 0x04;
const FINISH: u32 = 0x05;
const FIELD_CONTENT_TYPE: u32 = 0x01;

/// The longest control frame accepted from a reader (the specification's limit).
const MAX_CONTROL: usize = 512;

/// A control frame of type `kind`, with the content type when `with_type`.
fn control(kind: u32, with_type: bool) -> Vec<u8> {
    let mut body = kind.to_be_bytes().to_vec();
    if with_type {
        body.extend_from_slice(&FIELD_CONTENT_TYPE.to_be_bytes());
        body.extend_from_slice(&(CONTENT_TYPE.len() as u32).to_be_bytes());
        body.extend_from_slice(CONTENT_TYPE);
    }
    let mut frame = 0u32.to_be_bytes().to_vec();
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// Appends one data frame holding `payload` to `out`.
pub fn data_frame(payload: &[u8], out: &mut Vec<u8>) {
    begin_data_frame(payload.len(), out);
    out.extend_from_slice(payload);
}

/// Appends the start of a data frame whose `len` octets the caller appends next.
pub fn begin_data_frame(len: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&(len as u32).to_be_bytes());
}

/// Reads one control frame; returns its type and whether it lists dnstap's content type.
async fn read_control<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<(u32, bool)> {
    let escape = r.read_u32().await?;
    if escape != 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "expected a control frame"));
    }
    let len = r.read_u32().await? as usize;
    if !(4..=MAX_CONTROL).contains(&len) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad control frame length"));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    let kind = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    let mut fields = &body[4..];
    let mut ours = false;
    while fields.len() >= 8 {
        let field = u32::from_be_bytes([fields[0], fields[1], fields[2], fields[3]]);
        let flen = u32::from_be_bytes([fields[4], fields[5], fields[6], fields[7]]) as usize;
        let Some(value) = fields.get(8..8 + flen) else {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad control field length"));
        };
        ours |= field == FIELD_CONTENT_TYPE && value == CONTENT_TYPE;
        fields = &fields[8 + flen..];
    }
    Ok((kind, ours))
}

/// The writer's opening: READY, the reader's ACCEPT of dnstap's content type, START; within
/// `limit`.
pub async fn open<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, limit: Duration) -> io::Result<()> {
    let handshake = async {
        s.write_all(&control(READY, true)).await?;
        s.flush().await?;
        match read_control(s).await? {
            (ACCEPT, true) => {}
            (ACCEPT, false) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the reader does not accept protobuf:dnstap.Dnstap",
                ));
            }
            (kind, _) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("expected ACCEPT, got control frame type {kind}"),
                ));
            }
        }
        s.write_all(&control(START, true)).await?;
        s.flush().await
    };
    tokio::time::timeout(limit, handshake)
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "handshake timed out")))
}

/// The writer's closing: STOP, then the reader's FINISH, within `limit`.
pub async fn close<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    limit: Duration,
) -> io::Result<()> {
    let closing = async {
        s.write_all(&control(STOP, false)).await?;
        s.flush().await?;
        match read_control(s).await? {
            (FINISH, _) => Ok(()),
            (kind, _) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected FINISH, got control frame type {kind}"),
            )),
        }
    };
    tokio::time::timeout(limit, closing)
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "closing timed out")))
}

/// The reader's side, for tests: a collector that accepts dnstap and reads data frames.
#[cfg(test)]
pub(crate) mod collector {
    use super::*;

    /// Answers a writer's READY with ACCEPT and reads its START.
    pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> io::Result<()> {
        let (kind, ours) = read_control(s).await?;
        assert_eq!((kind, ours), (READY, true));
        s.write_all(&control(ACCEPT, true)).await?;
        let (kind, ours) = read_control(s).await?;
        assert_eq!((kind, ours), (START, true));
        Ok(())
    }

    /// The next data frame's payload; `None` at STOP, which is answered with FINISH.
    pub async fn next<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> io::Result<Option<Vec<u8>>> {
        let len = s.read_u32().await? as usize;
        if len == 0 {
            let len = s.read_u32().await? as usize;
            let mut body = vec![0u8; len];
            s.read_exact(&mut body).await?;
            assert_eq!(&body[..4], &STOP.to_be_bytes(), "only STOP after START");
            s.write_all(&control(FINISH, false)).await?;
            return Ok(None);
        }
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).await?;
        Ok(Some(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_frames_are_escaped_and_carry_the_content_type() {
        let ready = control(READY, true);
        assert_eq!(&ready[..4], &[0, 0, 0, 0], "escape");
        let len = u32::from_be_bytes([ready[4], ready[5], ready[6], ready[7]]) as usize;
        assert_eq!(len, ready.len() - 8);
        assert_eq!(&ready[8..12], &READY.to_be_bytes());
        assert_eq!(&ready[12..16], &FIELD_CONTENT_TYPE.to_be_bytes());
        assert_eq!(&ready[20..], CONTENT_TYPE);
        assert_eq!(control(STOP, false), [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3]);
        let mut out = Vec::new();
        data_frame(b"abc", &mut out);
        assert_eq!(out, [0, 0, 0, 3, b'a', b'b', b'c']);
    }

    /// A reader that accepts, as fstrm_capture does, and one that answers garbage.
    #[tokio::test]
    async fn the_handshake_needs_an_accept_of_dnstap() {
        let (mut writer, mut reader) = tokio::io::duplex(4096);
        let read = tokio::spawn(async move {
            let (kind, ours) = read_control(&mut reader).await.unwrap();
            assert_eq!((kind, ours), (READY, true));
            reader.write_all(&control(ACCEPT, true)).await.unwrap();
            let (kind, ours) = read_control(&mut reader).await.unwrap();
            assert_eq!((kind, ours), (START, true));
            let (kind, _) = read_control(&mut reader).await.unwrap();
            assert_eq!(kind, STOP);
            reader.write_all(&control(FINISH, false)).await.unwrap();
        });
        open(&mut writer, Duration::from_secs(2)).await.unwrap();
        close(&mut writer, Duration::from_secs(2)).await.unwrap();
        read.await.unwrap();

        let (mut writer, mut reader) = tokio::io::duplex(4096);
        tokio::spawn(async move {
            let _ = read_control(&mut reader).await;
            // ACCEPT of another content type.
            let mut body = ACCEPT.to_be_bytes().to_vec();
            body.extend_from_slice(&FIELD_CONTENT_TYPE.to_be_bytes());
            body.extend_from_slice(&3u32.to_be_bytes());
            body.extend_from_slice(b"xyz");
            let mut frame = 0u32.to_be_bytes().to_vec();
            frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
            frame.extend_from_slice(&body);
            reader.write_all(&frame).await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let err = open(&mut writer, Duration::from_secs(2)).await.unwrap_err();
        assert!(err.to_string().contains("does not accept"), "{err}");

        let (mut writer, mut reader) = tokio::io::duplex(4096);
        tokio::spawn(async move {
            let _ = read_control(&mut reader).await;
            reader.write_all(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).await.unwrap();
        });
        let err = open(&mut writer, Duration::from_secs(2)).await.unwrap_err();
        assert!(err.to_string().contains("length"), "{err}");

        // A reader that never answers: the handshake gives up at its limit.
        let (mut writer, _reader) = tokio::io::duplex(4096);
        let err = open(&mut writer, Duration::from_millis(100)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
