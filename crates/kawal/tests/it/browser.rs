//! The console in a real browser: headless Chromium driven over WebDriver by Debian's
//! chromedriver. Skipped, with the reason printed, where either is not installed. With
//! `KAWAL_SCREENSHOTS=1` each page is saved to `docs/screenshots/`.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::console::{community, index_all, indicator, share, PASSWORD};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Option<Driver> {
        for needed in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(needed).exists() {
                eprintln!(
                    "skipping browser tests: {needed} is not installed (apt-get install chromium chromium-driver)"
                );
                return None;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        // In a process group of its own, with the browsers it starts, so that a test that
        // fails before closing its session leaves no browser running.
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000"],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Saves what the browser shows, from the top of the page, when asked to
/// (`KAWAL_SCREENSHOTS=1`).
async fn screenshot(browser: &Client, name: &str) {
    if std::env::var("KAWAL_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    browser
        .execute("window.scrollTo(0, 0);", Vec::new())
        .await
        .unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Waits until the element's text contains `text`.
async fn wait_for_text(browser: &Client, css: &str, text: &str, within: Duration) {
    let started = Instant::now();
    loop {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            if element.text().await.is_ok_and(|t| t.contains(text)) {
                return;
            }
        }
        assert!(
            started.elapsed() < within,
            "`{css}` never showed `{text}`: {}",
            browser.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn an_analyst_signs_in_searches_watches_and_signs_out() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let (it, collection) = community();
    let malware = r#"{"type":"malware","spec_version":"2.1","id":"malware--00000000-0000-4000-8000-000000000002","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"Gremlin","is_family":true}"#;
    let relationship = r#"{"type":"relationship","spec_version":"2.1","id":"relationship--00000000-0000-4000-8000-000000000003","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","relationship_type":"indicates","source_ref":"indicator--00000000-0000-4000-8000-000000000001","target_ref":"malware--00000000-0000-4000-8000-000000000002"}"#;
    share(
        &it,
        &collection,
        "KH-CERT",
        &[
            indicator(1, "Kitten campaign"),
            indicator(4, "Puppy campaign"),
            malware.to_owned(),
            relationship.to_owned(),
        ],
    );
    index_all(&it);
    let base = it.base.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let browser = driver.browser().await;
        let wait = Duration::from_secs(15);

        // Sign in.
        browser.goto(&format!("{base}/")).await.unwrap();
        let username = browser
            .wait()
            .for_element(Locator::Id("username"))
            .await
            .unwrap();
        screenshot(&browser, "sign-in").await;
        username.send_keys("ana").await.unwrap();
        browser
            .find(Locator::Id("password"))
            .await
            .unwrap()
            .send_keys(PASSWORD)
            .await
            .unwrap();
        browser
            .find(Locator::Css("form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(&browser, "h1", "Dashboard", wait).await;

        // Live updates: an object shared now appears without reloading.
        wait_for_text(&browser, "#live-status", "live", wait).await;
        share(&it, &collection, "MY-CERT", &[indicator(9, "Arrived live")]);
        wait_for_text(&browser, "#latest", "Arrived live", wait).await;
        screenshot(&browser, "dashboard").await;

        // Search and open an object.
        browser
            .find(Locator::LinkText("Explore"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let search = browser.wait().for_element(Locator::Id("q")).await.unwrap();
        search.send_keys("kitten").await.unwrap();
        browser
            .find(Locator::Css(".searchbar button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(&browser, "#result-count", "1 object", wait).await;
        screenshot(&browser, "explore").await;
        browser
            .find(Locator::LinkText("Kitten campaign"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(&browser, "h1", "Kitten campaign", wait).await;
        browser
            .find(Locator::Css("svg.graph a.node"))
            .await
            .expect("the relationship graph links the neighbours");
        screenshot(&browser, "object").await;

        browser
            .find(Locator::LinkText("API tokens"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(&browser, "h1", "API tokens", wait).await;
        screenshot(&browser, "tokens").await;

        // Sign out.
        browser
            .find(Locator::Css(".who button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        browser
            .wait()
            .for_element(Locator::Id("username"))
            .await
            .unwrap();
        assert!(browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/sign-in"));
        browser.goto(&format!("{base}/explore")).await.unwrap();
        browser
            .wait()
            .for_element(Locator::Id("username"))
            .await
            .unwrap();
        browser.close().await.unwrap();
    });
}

/// Signs in through the form and waits for the dashboard.
async fn sign_in(browser: &Client, base: &str, username: &str) {
    browser.goto(&format!("{base}/sign-in")).await.unwrap();
    let field = browser
        .wait()
        .for_element(Locator::Id("username"))
        .await
        .unwrap();
    field.send_keys(username).await.unwrap();
    browser
        .find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click(browser, "form button[type=submit]").await;
    wait_for_text(browser, "h1", "Dashboard", Duration::from_secs(15)).await;
}

async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
        .click()
        .await
        .unwrap();
}

async fn type_into(browser: &Client, id: &str, text: &str) {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

#[test]
fn an_analyst_works_a_case_and_an_admin_adds_a_collection() {
    use kawal_core::cases::{CaseFields, CaseStatus, NewCase, Severity, Share};
    use kawal_core::{Principal, Role};
    use stix::Tlp;

    let Some(driver) = Driver::start() else {
        return;
    };
    let (it, collection) = community();
    let admin = it.admin();
    it.ex()
        .add_user(&admin, "Instance", "root", Role::Admin, PASSWORD)
        .unwrap();
    share(&it, &collection, "KH-CERT", &[indicator(1, "Kitten C2")]);
    let acting = |org: &str| Principal::Local {
        org: it.ex().store().org_by_name(org).unwrap().unwrap().id,
        role: Role::Analyst,
    };
    let case = it
        .ex()
        .open_case(
            &acting("MY-CERT"),
            &NewCase {
                name: "Telco and ministry campaign".to_owned(),
                description: Some("Beaconing to the same domain from two countries.".to_owned()),
                fields: CaseFields {
                    status: CaseStatus::New,
                    severity: Severity::High,
                    category: "intrusion".to_owned(),
                    affected_organisation_refs: Vec::new(),
                    affected_assets: vec!["core routers".to_owned()],
                    assignee_refs: Vec::new(),
                    assignee_users: vec!["ana".to_owned()],
                    due: Some("2031-01-31T23:59:59Z".to_owned()),
                    contributions: false,
                },
                tlp: Some(Tlp::Amber),
            },
        )
        .unwrap();
    let id = case.state.id;
    it.ex()
        .link_to_case(
            &acting("MY-CERT"),
            &id,
            "indicator--00000000-0000-4000-8000-000000000001",
            None,
            None,
        )
        .unwrap();
    it.ex()
        .share_case(
            &acting("MY-CERT"),
            &id,
            &Share {
                organisations: vec!["KH-CERT".to_owned()],
                groups: Vec::new(),
                tlp: Tlp::Amber,
                contributions: true,
            },
        )
        .unwrap();
    it.ex()
        .add_case_note(
            &acting("KH-CERT"),
            &id,
            None,
            "The ministry's resolver saw the domain too.",
            None,
            &[],
        )
        .unwrap();
    index_all(&it);
    let base = it.base.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let browser = driver.browser().await;
        let wait = Duration::from_secs(15);

        // MY-CERT's analyst opens the case from the list.
        sign_in(&browser, &base, "ana").await;
        click(&browser, "nav.main a[href='/cases']").await;
        wait_for_text(&browser, "h1", "Cases", wait).await;
        wait_for_text(&browser, "#cases", "Telco and ministry campaign", wait).await;
        screenshot(&browser, "cases").await;
        browser
            .find(Locator::LinkText("Telco and ministry campaign"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(&browser, "h1", "Telco and ministry campaign", wait).await;
        wait_for_text(
            &browser,
            "#timeline-entries",
            "resolver saw the domain",
            wait,
        )
        .await;

        // A note, a task, and a move along the workflow, each seen in the timeline.
        type_into(&browser, "note-content", "Routers isolated at 14:05 UTC.").await;
        click(&browser, "form[action$='/notes'] button[type=submit]").await;
        wait_for_text(
            &browser,
            "#timeline-entries",
            "Routers isolated at 14:05 UTC.",
            wait,
        )
        .await;
        type_into(&browser, "task-name", "Collect router memory images").await;
        click(&browser, "form[action$='/tasks'] button[type=submit]").await;
        wait_for_text(&browser, "#task-rows", "Collect router memory images", wait).await;
        wait_for_text(
            &browser,
            "#timeline-entries",
            "task added: Collect router memory images",
            wait,
        )
        .await;
        click(&browser, "button[data-status='triage']").await;
        wait_for_text(&browser, "#case-status", "triage", wait).await;
        wait_for_text(&browser, "#timeline-entries", "status new → triage", wait).await;
        assert!(
            browser
                .find(Locator::Css("button[data-status='new']"))
                .await
                .is_err(),
            "the workflow offers no way back to new"
        );
        screenshot(&browser, "case").await;
        browser
            .goto(&format!("{base}/cases/metrics"))
            .await
            .unwrap();
        wait_for_text(&browser, "#metric-cases", "1", wait).await;
        screenshot(&browser, "case-metrics").await;
        click(&browser, ".who button").await;
        browser
            .wait()
            .for_element(Locator::Id("username"))
            .await
            .unwrap();

        // The instance's administrator adds a collection.
        sign_in(&browser, &base, "root").await;
        click(&browser, "nav.main a[href='/admin']").await;
        wait_for_text(&browser, "h1", "Administration", wait).await;
        screenshot(&browser, "admin-organisations").await;
        click(&browser, "nav.sub a[href='/admin/groups']").await;
        wait_for_text(&browser, "#groups", "asean", wait).await;
        screenshot(&browser, "admin-groups").await;
        click(&browser, "nav.sub a[href='/admin/collections']").await;
        wait_for_text(&browser, "h2", "Collections", wait).await;
        type_into(&browser, "collection-title", "Mekong campaign indicators").await;
        type_into(
            &browser,
            "collection-description",
            "Shared with the ASEAN CERTs",
        )
        .await;
        click(
            &browser,
            "form[action='/admin/collections'] button[type=submit]",
        )
        .await;
        wait_for_text(
            &browser,
            "[role=status]",
            "Collection Mekong campaign indicators was added",
            wait,
        )
        .await;
        wait_for_text(&browser, "#collections", "Mekong campaign indicators", wait).await;
        screenshot(&browser, "admin-collections").await;
        for (section, heading, name) in [
            ("/admin/users", "Accounts", "admin-users"),
            ("/admin/tokens", "API tokens", "admin-tokens"),
            ("/admin/audit", "Audit trail", "admin-audit"),
        ] {
            click(&browser, &format!("nav.sub a[href='{section}']")).await;
            wait_for_text(&browser, "h2", heading, wait).await;
            screenshot(&browser, name).await;
        }
        browser.close().await.unwrap();
    });
    assert!(it
        .ex()
        .store()
        .collections()
        .unwrap()
        .iter()
        .any(|c| c.title == "Mekong campaign indicators"));
}

/// Waits until the element's attribute has the value.
async fn wait_for_attribute(
    browser: &Client,
    css: &str,
    name: &str,
    value: &str,
    within: Duration,
) {
    let started = Instant::now();
    loop {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            if element.attr(name).await.ok().flatten().as_deref() == Some(value) {
                return;
            }
        }
        assert!(
            started.elapsed() < within,
            "`{css}` never had {name}=\"{value}\": {}",
            browser.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn follow_link(browser: &Client, text: &str) {
    browser
        .find(Locator::LinkText(text))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[test]
fn an_analyst_writes_an_indicator_imports_attack_and_sees_alerts_arrive() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let ics = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/attack/ics-attack.json");
    let (it, collection) = community();
    let sensor = crate::console_alerts::watched_resolver(&it, &collection);
    index_all(&it);
    let base = it.base.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let browser = driver.browser().await;
        let wait = Duration::from_secs(20);
        sign_in(&browser, &base, "ana").await;

        // The editor: a pattern error shows under the field while typing, then a valid
        // indicator is saved and its page opens.
        follow_link(&browser, "New indicator").await;
        wait_for_text(&browser, "h1", "New indicator", wait).await;
        browser
            .find(Locator::Id("name"))
            .await
            .unwrap()
            .send_keys("Scanner at 203.0.113.9")
            .await
            .unwrap();
        let pattern = browser.find(Locator::Id("pattern")).await.unwrap();
        pattern
            .send_keys("[ipv4-addr:value '203.0.113.9']")
            .await
            .unwrap();
        wait_for_text(
            &browser,
            "#pattern-diagnostics",
            "error: expected a comparison operator",
            wait,
        )
        .await;
        wait_for_attribute(&browser, "#pattern", "aria-invalid", "true", wait).await;
        screenshot(&browser, "indicator-editor").await;
        pattern.clear().await.unwrap();
        pattern
            .send_keys("[ipv4-addr:value = '203.0.113.9']")
            .await
            .unwrap();
        wait_for_text(
            &browser,
            "#pattern-diagnostics",
            "The pattern is valid.",
            wait,
        )
        .await;
        browser
            .find(Locator::Css("form.editor button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(&browser, "h1", "Scanner at 203.0.113.9", wait).await;
        browser
            .find(Locator::LinkText("New version"))
            .await
            .expect("the producer is offered a new version");

        // Import: the bars reach 100 % and every object has its result.
        if ics.exists() {
            follow_link(&browser, "Import").await;
            wait_for_text(&browser, "h1", "Import a STIX bundle", wait).await;
            browser
                .find(Locator::Id("bundle"))
                .await
                .unwrap()
                .send_keys(ics.canonicalize().unwrap().to_str().unwrap())
                .await
                .unwrap();
            browser
                .find(Locator::Css("form[data-import] button[type=submit]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            wait_for_text(
                &browser,
                "#import-summary",
                "Done.",
                Duration::from_secs(120),
            )
            .await;
            wait_for_attribute(&browser, "#import-progress", "data-percent", "100", wait).await;
            let summary = browser
                .find(Locator::Id("import-summary"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                summary.starts_with("1826 of 1826 objects into Indicators: 1826 stored, 0 refused"),
                "{summary}"
            );
            let rows = browser
                .find_all(Locator::Css("#import-successes tr"))
                .await
                .unwrap();
            assert_eq!(rows.len(), 1826);
            screenshot(&browser, "import").await;
        } else {
            eprintln!(
                "skipping the ATT&CK import: {} is not present",
                ics.display()
            );
        }

        // Alerts: one raised now appears without reloading.
        follow_link(&browser, "Alerts").await;
        wait_for_text(&browser, "#alerts-live-status", "live", wait).await;
        let before = browser
            .find_all(Locator::Css("#alerts tr[data-id]"))
            .await
            .unwrap()
            .len();
        assert_eq!(
            crate::console_alerts::submit(&it, &sensor, &crate::console_alerts::resolver_event(42)),
            1
        );
        wait_for_text(&browser, "#alerts", "2024-03-10 12:00:42 UTC", wait).await;
        // The row the stream added shows what finds the original event.
        wait_for_text(&browser, "#alerts tr:first-child", "flow_id=1", wait).await;
        let after = browser
            .find_all(Locator::Css("#alerts tr[data-id]"))
            .await
            .unwrap()
            .len();
        assert_eq!(after, before + 1);
        screenshot(&browser, "alerts").await;
        // Acknowledged from the row the stream added.
        browser
            .find(Locator::Css("#alerts tr:first-child button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(&browser, "#alerts tr:first-child", "ana at", wait).await;

        follow_link(&browser, "Dashboard").await;
        wait_for_text(&browser, "#latest-alerts", "Resolver", wait).await;
        screenshot(&browser, "dashboard-alerts").await;
        browser.close().await.unwrap();
    });
}
