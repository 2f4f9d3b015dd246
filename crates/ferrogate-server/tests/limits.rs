//! Clients that hold resources without sending: slow headers, slow bodies, too many
//! connections. The real server in-process with short limits, driven over raw TCP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ferrogate_server::{App, DataDir, Limits, Listening};
use ferrogate_types::AccountId;

struct Running {
    addr: std::net::SocketAddr,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn start(limits: Limits) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(&dir.path().join("data")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(async {
        let account = AccountId::parse("000000000000").unwrap();
        let (app, _) = App::open(&data, &account).await.unwrap();
        let listening = Listening::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = listening.local_addr;
        tokio::spawn(ferrogate_server::serve_with(
            app,
            listening,
            limits,
            std::future::pending(),
        ));
        addr
    });
    Running {
        addr,
        _rt: rt,
        _dir: dir,
    }
}

/// Reads until the server closes the connection (or 10 s pass, which fails the test).
fn read_until_closed(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

const UNSIGNED: &str = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 43\r\nConnection: close\r\n\r\nAction=GetCallerIdentity&Version=2011-06-15";

fn short() -> Limits {
    Limits {
        first_byte_timeout: Duration::from_millis(300),
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        max_connections: 64,
        max_per_peer: 64,
    }
}

/// True when the server closed `s` without answering (EOF or reset), within 10 s.
fn closed_without_answer(s: &mut TcpStream) -> bool {
    read_until_closed(s).is_empty()
}

#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let srv = start(short());
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // No blank line ever comes: the server must give up on its own.
    let answer = read_until_closed(&mut s);
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let srv = start(short());
    let s = TcpStream::connect(srv.addr).unwrap();
    let mut s = s;
    assert_eq!(read_until_closed(&mut s), "");
}

#[test]
fn a_body_that_never_arrives_gets_408() {
    let srv = start(short());
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nAction=")
        .unwrap();
    let answer = read_until_closed(&mut s);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[test]
fn a_connection_that_sends_nothing_is_closed_after_the_first_byte_deadline() {
    let srv = start(Limits {
        first_byte_timeout: Duration::from_millis(200),
        header_timeout: Duration::from_secs(30),
        ..Limits::default()
    });
    let mut s = TcpStream::connect(srv.addr).unwrap();
    assert!(closed_without_answer(&mut s));
}

/// Beyond the cap a connection is accepted and closed at once, and the listener keeps
/// accepting: nobody waits in the kernel's queue behind connections that send nothing.
#[test]
fn connections_beyond_the_cap_are_closed_at_once() {
    let srv = start(Limits {
        max_connections: 2,
        ..Limits::default()
    });
    let mut hogs: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(srv.addr).unwrap())
        .collect();
    // They have sent a first byte: they hold their slots until the header deadline.
    for h in &mut hogs {
        h.write_all(b"P").unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(srv.addr).unwrap();
    let _ = third.write_all(UNSIGNED.as_bytes());
    assert!(closed_without_answer(&mut third));
    // A slot freed is a slot taken by the next client.
    drop(hogs.pop());
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = TcpStream::connect(srv.addr).unwrap();
    fourth.write_all(UNSIGNED.as_bytes()).unwrap();
    let answer = read_until_closed(&mut fourth);
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    assert!(answer.contains("MissingAuthenticationToken"), "{answer}");
}

/// One peer address holding more than its share is refused while another is served.
#[test]
fn a_peer_over_its_cap_does_not_stall_others() {
    let srv = start(Limits {
        max_per_peer: 8,
        ..Limits::default()
    });
    let flooder: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..50 {
        held.push(connect_from(flooder, srv.addr));
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(UNSIGNED.as_bytes()).unwrap();
    let answer = read_until_closed(&mut s);
    assert!(answer.contains("MissingAuthenticationToken"), "{answer}");
    // The flooder's connections beyond its cap were closed by the server; a read that
    // times out finds a connection still open.
    let closed = held
        .iter_mut()
        .map(|h| {
            h.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            match h.read(&mut [0u8; 1]) {
                Ok(0) => true,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                Ok(_) => false,
            }
        })
        .filter(|closed| *closed)
        .count();
    assert_eq!(closed, 50 - 8, "the peer keeps exactly its cap");
}

/// A TCP connection to `to` from the local address `from` (any port).
fn connect_from(from: std::net::IpAddr, to: std::net::SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let s = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(std::net::SocketAddr::new(from, 0)).unwrap();
        sock.connect(to).await.unwrap().into_std().unwrap()
    });
    s.set_nonblocking(false).unwrap();
    s
}
