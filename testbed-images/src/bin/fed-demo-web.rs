//! `fed-demo-web`: the test bed's demo web server, standing in for the seed's httpbin (which
//! cannot be pulled here). HTTP/1.1 on `--listen` (default `0.0.0.0:80`):
//!
//! - `GET /` → 200, `hello from <pod>` where `<pod>` is `$POD_NAME`, else `$HOSTNAME` (the
//!   runtime sets it to the pod's name), plus `$POD_NAMESPACE` and `$NODE_NAME` when set;
//! - `GET /healthz` → 200 `ok`;
//! - anything else → 404 (405 for methods other than GET and HEAD).
//!
//! Every request is logged to stdout (`kubectl logs`). `--version` prints the version and exits,
//! which also gives `kubectl exec` something to run in an image without a shell.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

fn main() {
    let mut listen = "0.0.0.0:80".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--version" => {
                println!("fed-demo-web {}", env!("CARGO_PKG_VERSION"));
                return;
            }
            "--listen" => listen = args.next().unwrap_or_else(|| usage("--listen needs an address")),
            other => match other.strip_prefix("--listen=") {
                Some(addr) => listen = addr.to_string(),
                None => usage(&format!("unknown argument {other:?}")),
            },
        }
    }
    fed_testbed_images::exit_on_termination_signals();
    let listener = TcpListener::bind(&listen).unwrap_or_else(|e| {
        eprintln!("fed-demo-web: cannot listen on {listen}: {e}");
        std::process::exit(1)
    });
    let greeting = greeting();
    println!("fed-demo-web {} listening on {listen} as {greeting:?}", env!("CARGO_PKG_VERSION"));
    for stream in listener.incoming().flatten() {
        let greeting = greeting.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, &greeting) {
                println!("connection error: {e}");
            }
        });
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("fed-demo-web: {problem}\nusage: fed-demo-web [--listen ADDR] [--version]");
    std::process::exit(2)
}

/// The body of `GET /`.
fn greeting() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut text = format!("hello from {}", var("POD_NAME").or_else(|| var("HOSTNAME")).unwrap_or_else(|| "?".into()));
    if let Some(ns) = var("POD_NAMESPACE") {
        text += &format!(" in namespace {ns}");
    }
    if let Some(node) = var("NODE_NAME") {
        text += &format!(" on node {node}");
    }
    text + "\n"
}

/// A request larger than this (request line and headers) is cut off.
const MAX_REQUEST: u64 = 16 * 1024;

/// Answers one request and closes the connection.
fn serve(stream: TcpStream, greeting: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let mut reader = BufReader::new(stream.take(MAX_REQUEST));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers: nothing in them changes the answer.
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut words = request_line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET" | "HEAD", "/") => ("200 OK", greeting.to_string()),
        ("GET" | "HEAD", "/healthz") => ("200 OK", "ok\n".to_string()),
        ("GET" | "HEAD", _) => ("404 Not Found", "not found\n".to_string()),
        _ => ("405 Method Not Allowed", "only GET and HEAD\n".to_string()),
    };
    println!("{method} {path} from {peer}: {status}");
    let mut stream = reader.into_inner().into_inner();
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}
