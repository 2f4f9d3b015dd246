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
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        max_connections: 64,
    }
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
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let srv = start(Limits {
        header_timeout: Duration::from_secs(30),
        body_timeout: Duration::from_secs(30),
        max_connections: 2,
    });
    let hog1 = TcpStream::connect(srv.addr).unwrap();
    let hog2 = TcpStream::connect(srv.addr).unwrap();
    // The third client's request waits in the accept queue...
    let mut third = TcpStream::connect(srv.addr).unwrap();
    third.write_all(UNSIGNED.as_bytes()).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 16];
    match third.read(&mut buf) {
        Err(e)
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::TimedOut => {}
        other => panic!("answered beyond the connection cap: {other:?}"),
    }
    // ...until a slot frees up.
    drop(hog1);
    let answer = read_until_closed(&mut third);
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    assert!(
        answer.contains("MissingAuthenticationToken") || answer.contains("x-amzn-requestid"),
        "{answer}"
    );
    drop(hog2);
}
