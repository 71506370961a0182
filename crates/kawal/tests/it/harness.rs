//! Test instances: an in-process server on a real loopback socket, and the real binary.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use kawal_core::{Exchange, Limits, Principal, Role};
use store::SqliteStore;

pub const TAXII: &str = "application/taxii+json;version=2.1";

/// A server running inside the test process, with direct access to its exchange for set-up.
pub struct Instance {
    pub base: String,
    pub state: server::AppState,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Instance {
    pub fn start(max_page: usize, max_body_bytes: usize) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kawal.db")).unwrap();
        let exchange = Exchange::new(Arc::new(store), Limits { max_page });
        exchange.bootstrap("Instance").unwrap();
        let config = server::ServerConfig {
            max_body_bytes,
            ..server::ServerConfig::default()
        };
        let state = server::AppState::new(exchange, config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(server::serve(
            listener,
            state.clone(),
            std::future::pending(),
        ));
        Instance {
            base,
            state,
            _runtime: runtime,
            _dir: dir,
        }
    }

    pub fn ex(&self) -> &Exchange {
        self.state.exchange()
    }

    pub fn admin(&self) -> Principal {
        let org = self.ex().instance_org().unwrap().unwrap();
        Principal::Local {
            org: org.id,
            role: Role::Admin,
        }
    }

    /// Issues a token and returns `TOKEN_ID:SECRET`.
    pub fn token(&self, org: &str, role: Role) -> String {
        let (token, secret) = self.ex().add_token(&self.admin(), org, role).unwrap();
        format!("{}:{secret}", token.id)
    }
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP request; error statuses are replies, not failures.
pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
    let mut request = ureq::request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let result = match body {
        Some(bytes) => request.send_bytes(bytes),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or("").to_owned();
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|n| response.header(&n).map(|v| (n.clone(), v.to_owned())))
        .collect();
    let body = response.into_string().unwrap_or_default();
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}

/// The value of one series of the server's `/metrics`, 0 when absent.
pub fn metric(base: &str, series: &str) -> u64 {
    let body = call("GET", &format!("{base}/metrics"), &[], None).body;
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub fn get(url: &str, token: Option<&str>) -> Reply {
    let auth = token.map(bearer);
    let mut headers = vec![("Accept", TAXII)];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    call("GET", url, &headers, None)
}

pub fn post(url: &str, token: &str, body: &str, extra: &[(&str, &str)]) -> Reply {
    let auth = bearer(token);
    let mut headers = vec![
        ("Accept", TAXII),
        ("Content-Type", TAXII),
        ("Authorization", auth.as_str()),
    ];
    headers.extend_from_slice(extra);
    call("POST", url, &headers, Some(body.as_bytes()))
}

/// Follows `next` until the end; returns every item of `key` across pages.
pub fn get_all(url: &str, token: Option<&str>, key: &str) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page_url = match &next {
            None => url.to_owned(),
            Some(n) => format!("{url}{}next={n}", if url.contains('?') { '&' } else { '?' }),
        };
        let reply = get(&page_url, token);
        assert_eq!(reply.status, 200, "{page_url}: {}", reply.body);
        let page = reply.json();
        items.extend(
            page.get(key)
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default(),
        );
        match page.get("next").and_then(|n| n.as_str()) {
            Some(n) if page["more"] == true => next = Some(n.to_owned()),
            _ => return items,
        }
    }
}

/// The real `kawal` binary serving a data directory.
pub struct Binary {
    pub child: Child,
    pub base: String,
    /// What the server printed before it listened.
    pub startup: Vec<String>,
}

pub fn kawal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kawal"))
}

/// Runs a `kawal` command to completion and returns its standard output; panics on failure.
pub fn cli(data: &Path, args: &[&str]) -> String {
    let out = kawal().args(args).arg("--data").arg(data).output().unwrap();
    assert!(
        out.status.success(),
        "kawal {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Creates PRODUCER and MEMBER, who share sharing group `g`, and the organisations `others`,
/// outside it: the community the monitoring tests work in.
pub fn producer_and_member(data: &Path, others: &[&str]) {
    std::fs::create_dir_all(data).unwrap();
    for org in ["PRODUCER", "MEMBER"].iter().chain(others) {
        cli(data, &["admin", "org", "add", org]);
    }
    cli(
        data,
        &["admin", "group", "add", "g", "--orgs", "PRODUCER,MEMBER"],
    );
}

/// Issues a token with the command line and returns `TOKEN_ID:SECRET`.
pub fn issue_token(data: &Path, org: &str, role: &str) -> String {
    cli(
        data,
        &["admin", "token", "add", "--org", org, "--role", role],
    )
    .trim()
    .to_owned()
}

impl Binary {
    pub fn serve(data: &Path) -> Binary {
        Binary::serve_with(data, &[])
    }

    pub fn serve_with(data: &Path, extra: &[&str]) -> Binary {
        let mut child = kawal()
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut startup = Vec::new();
        let base = loop {
            let line = lines
                .next()
                .expect("the server exited before listening")
                .unwrap();
            if let Some(rest) = line.strip_prefix("kawal listening on ") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            startup.push(line);
        };
        // Keep draining standard output so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Binary {
            child,
            base,
            startup,
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
