//! Checkpoints (C2SP tlog-checkpoint) and witness cosignatures (C2SP tlog-cosignature).

use tlog::checkpoint::CheckpointError;
use tlog::cosignature::{self, CosignatureError, CosignatureVerifier, Cosigner};
use tlog::hash::hash_from_base64;
use tlog::note::{self, KeyError, Note, NoteError, NoteVerifier, Signer};
use tlog::Checkpoint;

// The example of c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature.
const SPEC_NOTE: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

#[test]
fn spec_example() {
    let n = Note::parse(SPEC_NOTE.as_bytes()).expect("well-formed");
    let cp = Checkpoint::parse(n.text()).expect("checkpoint");
    assert_eq!(cp.origin(), "example.com/behind-the-sofa");
    assert_eq!(cp.size(), 20852163);
    assert_eq!(
        Ok(*cp.root()),
        hash_from_base64("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    );
    assert_eq!(cp.to_text(), n.text());
    // The log signs with its origin as key name.
    assert_eq!(n.signatures()[0].name, cp.origin());
    // The witness line carries the timestamp of the spec's signed-message example.
    let w = &n.signatures()[1];
    assert_eq!(w.name, "witness.example.com/w1");
    assert_eq!(cosignature::timestamp(w), Ok(1679315147));
    assert_eq!(w.signature.len(), 72);
}

#[test]
fn sign_and_open() {
    let log = Signer::from_seed("example.com/log", &[1; 32]).expect("valid");
    let root = tlog::leaf_hash(b"root");
    let cp = Checkpoint::new("example.com/log", 42, root)
        .and_then(|c| c.with_extension("ext: value"))
        .expect("valid");
    let signed = cp.sign(&[&log]).expect("signable");
    assert!(signed.starts_with("example.com/log\n42\n"));
    let (back, opened) = Checkpoint::open(signed.as_bytes(), &[&log.verifier()]).expect("opens");
    assert_eq!(back, cp);
    assert_eq!(back.extensions(), ["ext: value"]);
    assert_eq!(opened.verified.len(), 1);

    let other = Signer::from_seed("example.com/log", &[2; 32]).expect("valid");
    assert_eq!(
        Checkpoint::open(signed.as_bytes(), &[&other.verifier()]),
        Err(CheckpointError::Note(NoteError::Unverified))
    );
    // A signed note whose text is not a checkpoint.
    let not_cp = log.sign("hello\n").expect("signable");
    assert_eq!(
        Checkpoint::open(not_cp.as_bytes(), &[&log.verifier()]),
        Err(CheckpointError::MissingLines)
    );
    assert_eq!(
        Checkpoint::new("two\nlines", 1, root),
        Err(CheckpointError::EmptyLine(1))
    );
    assert!(cp.clone().with_extension("").is_err());
}

#[test]
fn cosignatures() {
    let log = Signer::from_seed("example.com/log", &[1; 32]).expect("valid");
    let witness = Cosigner::from_seed("witness.example/w1", &[2; 32]).expect("valid");
    let wv = witness.verifier();
    let cp = Checkpoint::new("example.com/log", 1000, tlog::leaf_hash(b"r")).expect("valid");
    let signed = cp.sign(&[&log]).expect("signable");

    // The witness adds its line; both verify through note::open.
    let cosigned = witness
        .cosign_note(signed.as_bytes(), 1_700_000_000)
        .expect("cosignable");
    assert!(cosigned.starts_with(&signed));
    let opened = note::open(cosigned.as_bytes(), &[&log.verifier(), &wv]).expect("verifies");
    assert_eq!(opened.verified.len(), 2);
    let line = &opened.verified[1];
    assert_eq!(wv.verify_cosignature(&cp, line), Ok(1_700_000_000));
    assert_eq!(cosignature::timestamp(line), Ok(1_700_000_000));

    // The signed message is the spec's, over the whole body.
    let msg = cosignature::signed_message(1_700_000_000, &cp.to_text());
    assert_eq!(
        String::from_utf8(msg).ok(),
        Some(format!("cosignature/v1\ntime 1700000000\n{}", cp.to_text()))
    );

    // The timestamp and the extension lines are covered.
    let mut moved = line.clone();
    moved.signature[7] ^= 1;
    assert_eq!(
        wv.verify_cosignature(&cp, &moved),
        Err(CosignatureError::Invalid)
    );
    let extended = cp.clone().with_extension("more").expect("valid");
    assert_eq!(
        wv.verify_cosignature(&extended, line),
        Err(CosignatureError::Invalid)
    );
    let c2 = witness.cosign(&extended, 5).expect("cosignable");
    assert_eq!(wv.verify_cosignature(&extended, &c2), Ok(5));

    // Key IDs are domain-separated from plain note keys: same seed and name, different key.
    let plain = Signer::from_seed("witness.example/w1", &[2; 32]).expect("valid");
    assert_ne!(plain.key_id(), witness.key_id());
    assert!(!plain
        .verifier()
        .verify(cp.to_text().as_bytes(), &line.signature));
    let plain_line = note::Note::parse(plain.sign(&cp.to_text()).expect("ok").as_bytes())
        .expect("well-formed")
        .signatures()[0]
        .clone();
    assert!(matches!(
        wv.verify_cosignature(&cp, &plain_line),
        Err(CosignatureError::WrongKey { .. })
    ));

    // Timestamps stop at 2^63 - 1.
    assert_eq!(
        witness.cosign(&cp, 1 << 63),
        Err(CosignatureError::Timestamp(1 << 63))
    );
    assert!(witness.cosign(&cp, (1 << 63) - 1).is_ok());

    // A cosignature only speaks about checkpoints.
    assert!(!wv.verify(b"hello\n", &line.signature));
    assert_eq!(
        cosignature::timestamp(&tlog::note::Signature {
            name: "x".into(),
            key_id: 0,
            signature: vec![0; 64],
        }),
        Err(CosignatureError::Length(64))
    );
}

#[test]
fn cosigner_keys() {
    let witness = Cosigner::from_seed("witness.example/w1", &[2; 32]).expect("valid");
    let vkey = witness.verifier().verifier_key();
    assert_eq!(
        CosignatureVerifier::from_verifier_key(&vkey),
        Ok(witness.verifier())
    );
    let back = Cosigner::from_signer_key(&witness.signer_key()).expect("round trip");
    assert_eq!(back.verifier(), witness.verifier());
    // A plain note signer key may be reused as a witness key.
    let plain = Signer::from_seed("witness.example/w1", &[2; 32]).expect("valid");
    let reused = Cosigner::from_signer_key(&plain.signer_key()).expect("accepted");
    assert_eq!(reused.verifier(), witness.verifier());
    // A plain verifier key is not a cosignature key.
    assert!(matches!(
        CosignatureVerifier::from_verifier_key(&plain.verifier().verifier_key()),
        Err(KeyError::Type {
            got: 1,
            expected: 4
        })
    ));
    // A witness key published by a public witness, from transparency-dev/formats' tests.
    let v = CosignatureVerifier::from_verifier_key(
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
    )
    .expect("published key");
    assert_eq!(v.key_id(), 0xda77ade7);
    // And the timestamp of a published cosignature.
    let n = format!(
        "o\n1\n{}\n\n— w ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==\n",
        tlog::hash::hash_to_base64(&[0; 32])
    );
    let parsed = Note::parse(n.as_bytes()).expect("well-formed");
    assert_eq!(
        cosignature::timestamp(&parsed.signatures()[0]),
        Ok(1727964367)
    );
}
