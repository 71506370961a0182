//! The command line: first start, administration shapes, import and export, errors.

use std::path::Path;

use crate::harness::*;

fn attack(name: &str) -> Option<std::path::PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/attack")
        .join(name);
    if path.exists() {
        Some(path)
    } else {
        println!("skipped: {} is not present", path.display());
        None
    }
}

#[test]
fn first_start_creates_the_instance_and_an_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Binary::serve(&data);
    let token_file = data.join("admin.token");
    let credentials = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let whoami = call(
        "GET",
        &format!("{}/api/whoami", server.base),
        &[("Authorization", &bearer(&credentials))],
        None,
    )
    .json();
    assert_eq!(whoami["role"], "admin");
    assert_eq!(whoami["organisation"]["name"], "Kawal instance");
    drop(server);
    // A second start keeps the instance and does not issue another token.
    let again = Binary::serve(&data);
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim(),
        credentials
    );
    drop(again);
}

#[test]
fn import_export_round_trip_while_serving() {
    let Some(ics) = attack("ics-attack.json") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _server = Binary::serve(&data);
    cli(
        &data,
        &["admin", "org", "add", "MY-CERT", "--country", "MY"],
    );
    cli(
        &data,
        &[
            "admin",
            "group",
            "add",
            "g",
            "--orgs",
            "MY-CERT,Kawal instance",
        ],
    );
    let collection = cli(
        &data,
        &[
            "admin",
            "collection",
            "add",
            "ATT&CK",
            "--group",
            "g",
            "--default-tlp",
            "clear",
        ],
    )
    .trim()
    .to_owned();
    assert_eq!(collection.len(), 36);
    let out = cli(
        &data,
        &[
            "import",
            ics.to_str().unwrap(),
            "--collection",
            &collection,
            "--org",
            "MY-CERT",
        ],
    );
    assert!(out.contains("0 refused"), "{out}");
    let exported = cli(&data, &["export", "--collection", &collection]);
    let bundle: serde_json::Value = serde_json::from_str(&exported).unwrap();
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ics).unwrap()).unwrap();
    let count = |b: &serde_json::Value| b["objects"].as_array().unwrap().len();
    assert_eq!(count(&bundle), count(&original));
    // The exported objects are the imported bytes.
    let source = std::fs::read_to_string(&ics).unwrap();
    for object in bundle["objects"].as_array().unwrap().iter().take(50) {
        let id = object["id"].as_str().unwrap();
        assert!(source.contains(id));
    }
}

#[test]
fn cli_errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let fail = |args: &[&str]| -> String {
        let out = kawal()
            .args(args)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert!(!out.status.success(), "kawal {args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(fail(&["admin", "group", "add", "g", "--orgs", "NOBODY"])
        .contains("organisation `NOBODY` does not exist"));
    assert!(
        fail(&["admin", "collection", "add", "T", "--group", "none"])
            .contains("sharing group `none` does not exist")
    );
    assert!(fail(&[
        "admin",
        "collection",
        "add",
        "T",
        "--group",
        "none",
        "--default-tlp",
        "purple"
    ])
    .contains("not a TLP level"));
    assert!(fail(&[
        "admin",
        "token",
        "add",
        "--org",
        "Kawal instance",
        "--role",
        "root"
    ])
    .contains("not a role"));
    assert!(fail(&["admin", "org", "add", "X", "--country", "Malaysia"]).contains("ISO 3166"));
    assert!(
        fail(&["import", "/nonexistent.json", "--collection", "x"]).contains("/nonexistent.json")
    );
    assert!(fail(&[
        "export",
        "--collection",
        "2d086da7-4bdc-4f91-900e-d77486753710"
    ])
    .contains("no collection"));
    let config = dir.path().join("kawal.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\ncolour = \"red\"\n").unwrap();
    let out = kawal()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `colour`"));
}

#[test]
fn config_file_then_environment_then_flag() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("from-file");
    let config = dir.path().join("kawal.toml");
    std::fs::write(
        &config,
        format!(
            "data = {:?}\ninstance_name = \"MY-CERT\"\n",
            from_file.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = kawal()
        .args(["admin", "org", "list", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("MY-CERT"));
    assert!(from_file.join("kawal.db").exists());
    let from_env = dir.path().join("from-env");
    let out = kawal()
        .args(["admin", "org", "list", "--config"])
        .arg(&config)
        .env("KAWAL_DATA", &from_env)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(from_env.join("kawal.db").exists());
    let from_flag = dir.path().join("from-flag");
    let out = kawal()
        .args(["admin", "org", "list", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(&from_flag)
        .env("KAWAL_DATA", &from_env)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(from_flag.join("kawal.db").exists());
}
