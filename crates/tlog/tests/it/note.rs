//! Signed notes (C2SP signed-note), against the reference implementation's published example.

use tlog::note::{self, KeyError, Note, NoteError, NoteVerifier, Signer, Verifier};

// The example key pair and note of golang.org/x/mod/sumdb/note, the reference implementation.
const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

fn peter() -> (Signer, Verifier) {
    let s = Signer::from_signer_key(SKEY).expect("example signer key");
    let v = Verifier::from_verifier_key(VKEY).expect("example verifier key");
    (s, v)
}

fn example_note() -> String {
    format!("{TEXT}\n{SIG}")
}

#[test]
fn reference_example_byte_for_byte() {
    let (s, v) = peter();
    assert_eq!(s.key_id(), 0xc74f20a3);
    assert_eq!(v.key_id(), 0xc74f20a3);
    assert_eq!(s.verifier(), v);
    assert_eq!(v.verifier_key(), VKEY);
    assert_eq!(s.signer_key(), SKEY);
    // Ed25519 is deterministic, so signing reproduces the published note exactly.
    assert_eq!(s.sign(TEXT).as_deref(), Ok(example_note().as_str()));
    let opened = note::open(example_note().as_bytes(), &[&v]).expect("verifies");
    assert_eq!(opened.text, TEXT);
    assert_eq!(opened.verified.len(), 1);
    assert_eq!(opened.verified[0].name, "PeterNeumann");
    assert!(opened.unknown.is_empty());
}

#[test]
fn spec_example_note_parses() {
    // The example of c2sp.org/signed-note; its public key is not published, so the signature is
    // from an unknown key and the note cannot be opened.
    let msg = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let n = Note::parse(msg.as_bytes()).expect("well-formed");
    // The text keeps its inner blank line: only the last one separates the signatures.
    assert_eq!(
        n.text(),
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(n.signatures().len(), 1);
    assert_eq!(n.signatures()[0].name, "quasimodo.example/salvatore");
    assert_eq!(n.signatures()[0].key_id, 0x367ba04b);
    assert_eq!(n.to_string(), msg);
    let (_, v) = peter();
    assert_eq!(
        note::open(msg.as_bytes(), &[&v]),
        Err(NoteError::Unverified)
    );
}

#[test]
fn mangled_keys_are_rejected() {
    assert!(Verifier::from_verifier_key(VKEY).is_ok());
    for key in [VKEY, SKEY] {
        let b = key.as_bytes();
        // Every proper substring.
        for i in 0..b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                let k = &key[i..j];
                assert!(Verifier::from_verifier_key(k).is_err(), "{k:?}");
                assert!(Signer::from_signer_key(k).is_err(), "{k:?}");
            }
        }
        // Every single-character change.
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            let Ok(k) = std::str::from_utf8(&m) else {
                continue;
            };
            assert!(Verifier::from_verifier_key(k).is_err(), "{k:?}");
            assert!(Signer::from_signer_key(k).is_err(), "{k:?}");
        }
    }
    assert!(matches!(
        Verifier::from_verifier_key(
            "PeterNeumann+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        ),
        Err(KeyError::KeyIdMismatch {
            given: 0,
            computed: 0xc74f20a3
        })
    ));
    assert!(matches!(
        Verifier::from_verifier_key(
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        ),
        Err(KeyError::Type { got: 0x65, .. })
    ));
    assert_eq!(
        Signer::from_seed("bad name", &[1; 32]).map(|_| ()),
        Err(KeyError::Name("bad name".into()))
    );
}

#[test]
fn malformed_notes_are_rejected() {
    let sig = SIG;
    for (msg, want) in [
        (String::new(), NoteError::NoSignatureBlock),
        ("\n".into(), NoteError::NoSignatureBlock),
        (TEXT.into(), NoteError::NoSignatureBlock),
        (format!("{TEXT}\n"), NoteError::SignatureBlock),
        (
            format!("{TEXT}\n{}", sig.trim_end()),
            NoteError::SignatureBlock,
        ),
        (format!("{TEXT}\n{sig}\n"), NoteError::SignatureBlock),
        (
            format!("{TEXT}\n{sig}{sig}extra\n"),
            NoteError::SignatureLine(3),
        ),
        (
            format!("{TEXT}\n- PeterNeumann x08go/ZJk=\n"),
            NoteError::SignatureLine(1),
        ),
        (
            format!("{TEXT}\n— PeterNeumann\n"),
            NoteError::SignatureLine(1),
        ),
        (
            format!("{TEXT}\n— PeterNeumann \n"),
            NoteError::SignatureLine(1),
        ),
        (
            format!("{TEXT}\n—  x08go/ZJk=\n"),
            NoteError::SignatureLine(1),
        ),
        (
            format!("{TEXT}\n— Peter+Neumann x08go/ZJk=\n"),
            NoteError::SignatureLine(1),
        ),
        (
            format!("{TEXT}\n— PeterNeumann x08go/ZJk\n"),
            NoteError::SignatureLine(1),
        ),
        (
            format!("{TEXT}\n— PeterNeumann x08g\n"),
            NoteError::SignatureLine(1),
        ),
        (
            format!("{TEXT}\n— PeterNeumann x08go/ZJk= \n"),
            NoteError::SignatureLine(1),
        ),
        (format!("a\rb\n\n{sig}"), NoteError::ControlCharacter(1)),
        (format!("a\tb\n\n{sig}"), NoteError::ControlCharacter(1)),
    ] {
        assert_eq!(Note::parse(msg.as_bytes()), Err(want), "{msg:?}");
    }
    let mut bad = example_note().into_bytes();
    bad[3] = 0xff;
    assert_eq!(Note::parse(&bad), Err(NoteError::Utf8));
    let many = format!("{TEXT}\n{}", sig.repeat(101));
    assert_eq!(
        Note::parse(many.as_bytes()),
        Err(NoteError::TooManySignatures)
    );
    let hundred = format!("{TEXT}\n{}", sig.repeat(100));
    let (_, v) = peter();
    let opened = note::open(hundred.as_bytes(), &[&v]).expect("100 signatures are fine");
    assert_eq!(opened.verified.len(), 1, "repeats count once");
    assert_eq!(
        note::sign("no newline", &[&peter().0]),
        Err(NoteError::TextNotTerminated)
    );
}

#[test]
fn verification_rules() {
    let (peter_s, peter_v) = peter();
    let other = Signer::from_seed("example.com/other", &[9; 32]).expect("valid");
    let other_v = other.verifier();
    let both = note::sign(TEXT, &[&peter_s, &other]).expect("signable");
    assert!(both.starts_with(&example_note()));

    // Unknown signatures are ignored and reported.
    let opened = note::open(both.as_bytes(), &[&peter_v]).expect("verifies");
    assert_eq!(opened.verified.len(), 1);
    assert_eq!(opened.unknown.len(), 1);
    assert_eq!(opened.unknown[0].name, "example.com/other");
    let opened = note::open(both.as_bytes(), &[&peter_v, &other_v]).expect("verifies");
    assert_eq!(opened.verified.len(), 2);

    // No known signature.
    assert_eq!(note::open(both.as_bytes(), &[]), Err(NoteError::Unverified));

    // Same name, different key: unknown, not invalid.
    let impostor = Signer::from_seed("PeterNeumann", &[3; 32]).expect("valid");
    assert_eq!(
        note::open(both.as_bytes(), &[&impostor.verifier()]),
        Err(NoteError::Unverified)
    );

    // A known key whose signature fails rejects the note, whatever else verifies.
    let tampered = both.replacen("problem,", "problem;", 1);
    assert_eq!(
        note::open(tampered.as_bytes(), &[&other_v]),
        Err(NoteError::InvalidSignature {
            name: "example.com/other".into(),
            key_id: other.key_id()
        })
    );
    let forged = format!(
        "{TEXT}\n{}{}",
        SIG,
        other_line_with(&peter_s, "other text\n")
    );
    assert!(matches!(
        note::open(forged.as_bytes(), &[&peter_v]),
        Err(NoteError::InvalidSignature { .. })
    ));

    // Two verifiers claiming one name and key ID.
    assert!(matches!(
        note::open(both.as_bytes(), &[&peter_v, &peter_v]),
        Err(NoteError::AmbiguousVerifier { .. })
    ));
}

/// A signature line by `s` over some other text.
fn other_line_with(s: &Signer, text: &str) -> String {
    let signed = s.sign(text).expect("signable");
    signed[text.len() + 1..].to_owned()
}

#[test]
fn round_trips_and_adding_signatures() {
    for i in 0..20u8 {
        let seed = [i.wrapping_mul(37).wrapping_add(1); 32];
        let s = Signer::from_seed(&format!("log{i}.example/x"), &seed).expect("valid");
        let v = Verifier::from_verifier_key(&s.verifier().verifier_key()).expect("round trip");
        assert_eq!(v, s.verifier());
        let back = Signer::from_signer_key(&s.signer_key()).expect("round trip");
        assert_eq!(back.verifier(), v);
        let text = format!("entry {i}\n\nwith a blank line\n");
        let msg = s.sign(&text).expect("signable");
        let opened = note::open(msg.as_bytes(), &[&v]).expect("verifies");
        assert_eq!(opened.text, text);
        assert!(v.verify(text.as_bytes(), &opened.verified[0].signature));
    }

    // A note gains signatures; re-signing with the same key replaces the old line.
    let (peter_s, peter_v) = peter();
    let mut n = Note::parse(example_note().as_bytes()).expect("well-formed");
    let w = Signer::from_seed("witness.example/w", &[5; 32]).expect("valid");
    n.sign_with(&w).expect("signable");
    n.sign_with(&peter_s).expect("signable");
    assert_eq!(n.signatures().len(), 2);
    assert_eq!(n.signatures()[1].name, "PeterNeumann");
    let opened = note::open(n.to_string().as_bytes(), &[&peter_v, &w.verifier()]).expect("ok");
    assert_eq!(opened.verified.len(), 2);
}
