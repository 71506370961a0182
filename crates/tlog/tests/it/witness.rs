//! C2SP tlog-witness: every answer a witness gives to `add-checkpoint`, driven by a log that
//! grows, forks and lies about sizes.

use tlog::cosignature::{self, Cosigner};
use tlog::note::{NoteError, Signer};
use tlog::witness::{
    read_cosignatures, AddCheckpoint, Refusal, RequestError, TrustedLog, Witness, Witnessed,
};
use tlog::{consistency_proof, Checkpoint, Hash, MemoryTree, EMPTY_ROOT};

const ORIGIN: &str = "log.example/kawal";

struct Log {
    signer: Signer,
    tree: MemoryTree,
}

impl Log {
    fn new(seed: u8) -> Log {
        Log {
            signer: Signer::from_seed(ORIGIN, &[seed; 32]).expect("valid"),
            tree: MemoryTree::new(),
        }
    }

    fn grow(&mut self, leaves: u64, tag: &str) {
        for _ in 0..leaves {
            let n = self.tree.size();
            self.tree.append_data(format!("{tag} {n}").as_bytes());
        }
    }

    fn signed(&self, size: u64) -> String {
        self.sign_root(size, self.tree.root_at(size).expect("within the tree"))
    }

    fn sign_root(&self, size: u64, root: Hash) -> String {
        Checkpoint::new(ORIGIN, size, root)
            .and_then(|c| c.sign(&[&self.signer]))
            .expect("signable")
    }

    fn proof(&self, old: u64, new: u64) -> Vec<Hash> {
        if old == 0 || old == new {
            return Vec::new();
        }
        consistency_proof(&self.tree, old, new).expect("sizes within the tree")
    }

    fn request(&self, old: u64, size: u64) -> Vec<u8> {
        AddCheckpoint {
            old_size: old,
            proof: self.proof(old, size),
            checkpoint: self.signed(size),
        }
        .to_body()
        .into_bytes()
    }
}

fn witness_of(log: &Log) -> Witness {
    Witness::new(
        Cosigner::from_seed("witness.example/w1", &[9; 32]).expect("valid"),
        vec![TrustedLog::new(ORIGIN, vec![log.signer.verifier()])],
    )
}

/// What a witness with state `latest` answers: its new state and cosignature, or the refusal.
fn submit(witness: &Witness, latest: &mut Option<Witnessed>, body: &[u8]) -> Result<(), Refusal> {
    let submission = witness.open(body)?;
    witness.check(&submission, latest.as_ref())?;
    let cosigned = witness
        .cosign(&submission, 1_700_000_000)
        .expect("cosignable");
    let signed = format!(
        "{}\n{}",
        submission.checkpoint.to_text(),
        submission
            .log_signatures
            .iter()
            .map(|s| s.line())
            .collect::<String>()
    );
    let lines = read_cosignatures(
        &signed,
        cosigned.response.as_bytes(),
        &witness.cosigner().verifier(),
    )
    .expect("the witness's own answer verifies");
    assert_eq!(cosignature::timestamp(&lines[0]), Ok(1_700_000_000));
    *latest = Some(Witnessed {
        size: submission.checkpoint.size(),
        root: *submission.checkpoint.root(),
    });
    Ok(())
}

#[test]
fn a_growing_log_is_cosigned_at_each_step() {
    let mut log = Log::new(1);
    let witness = witness_of(&log);
    let mut state = None;
    // The empty tree, then growth by one, by many, and a repeat of the same checkpoint.
    submit(&witness, &mut state, &log.request(0, 0)).expect("empty tree");
    log.grow(1, "a");
    submit(&witness, &mut state, &log.request(0, 1)).expect("from the empty tree");
    log.grow(300, "a");
    submit(&witness, &mut state, &log.request(1, 301)).expect("grown");
    submit(&witness, &mut state, &log.request(301, 301)).expect("same checkpoint again");
    log.grow(2, "a");
    submit(&witness, &mut state, &log.request(301, 303)).expect("grown again");
    assert_eq!(state.map(|s| s.size), Some(303));
}

#[test]
fn every_refusal() {
    let mut log = Log::new(1);
    log.grow(10, "a");
    let witness = witness_of(&log);
    let mut state = None;
    submit(&witness, &mut state, &log.request(0, 8)).expect("first checkpoint");
    let before = state;

    let refusal = |body: &[u8]| {
        let mut s = before;
        let outcome = submit(&witness, &mut s, body);
        assert_eq!(s, before, "a refused checkpoint moved the witness's state");
        outcome.expect_err("refused")
    };

    // 400: not the request format, or a note that is not a checkpoint.
    assert!(matches!(
        refusal(b"old 8\nnot base64\n\n"),
        Refusal::Malformed(RequestError::ProofLine { line: 2, .. })
    ));
    assert!(matches!(
        refusal(b"old 8\n\nno signatures\n"),
        Refusal::Malformed(RequestError::Note(NoteError::NoSignatureBlock))
    ));
    let not_a_checkpoint = format!(
        "old 8\n\n{}",
        log.signer.sign("just a note\n").expect("signable")
    );
    assert!(matches!(
        refusal(not_a_checkpoint.as_bytes()),
        Refusal::Malformed(RequestError::Checkpoint(_))
    ));

    // 404: an origin the witness does not witness.
    let stranger = Signer::from_seed("other.example/log", &[5; 32]).expect("valid");
    let foreign = Checkpoint::new("other.example/log", 10, log.tree.root())
        .and_then(|c| c.sign(&[&stranger]))
        .expect("signable");
    assert_eq!(
        refusal(format!("old 8\n\n{foreign}").as_bytes()),
        Refusal::UnknownOrigin("other.example/log".into())
    );

    // 403: the log's origin, signed by another key (a forgery), and a trusted key's signature
    // that does not verify.
    let forger = Log {
        signer: Signer::from_seed(ORIGIN, &[6; 32]).expect("valid"),
        tree: log.tree.clone(),
    };
    assert!(matches!(
        refusal(&forger.request(8, 10)),
        Refusal::Unverified {
            reason: NoteError::Unverified,
            ..
        }
    ));
    let tampered = log.signed(10).replacen("\n10\n", "\n11\n", 1).into_bytes();
    let tampered = [b"old 8\n\n".as_slice(), &tampered].concat();
    assert!(matches!(
        refusal(&tampered),
        Refusal::Unverified {
            reason: NoteError::InvalidSignature { .. },
            ..
        }
    ));

    // 400: an old size above the checkpoint's.
    let old_after_new = AddCheckpoint {
        old_size: 10,
        proof: vec![],
        checkpoint: log.signed(9),
    };
    assert_eq!(
        refusal(old_after_new.to_body().as_bytes()),
        Refusal::OldSizeAfterNew { old: 10, size: 9 }
    );

    // 409: an old size that is not the witness's, answering the witness's size.
    assert!(matches!(
        refusal(&log.request(4, 10)),
        Refusal::SizeMismatch {
            old: 4,
            witnessed: 8,
            ..
        }
    ));
    let mut fresh = None;
    assert!(matches!(
        submit(&witness, &mut fresh, &log.request(8, 10)),
        Err(Refusal::SizeMismatch {
            old: 8,
            witnessed: 0,
            ..
        })
    ));

    // 422: a fork (same old size, a proof that does not lead from the witnessed root), a wrong
    // proof, a different root at the same size, a proof from the empty tree, and an empty tree
    // with another root.
    let mut fork = Log::new(1);
    fork.grow(10, "b");
    assert!(matches!(
        refusal(&fork.request(8, 10)),
        Refusal::Inconsistent { .. }
    ));
    let mut wrong_proof = AddCheckpoint::parse(&log.request(8, 10)).expect("well-formed");
    wrong_proof.proof[0][0] ^= 1;
    assert!(matches!(
        refusal(wrong_proof.to_body().as_bytes()),
        Refusal::Inconsistent {
            size: 10,
            witnessed: 8,
            ..
        }
    ));
    let same_size_other_root = AddCheckpoint {
        old_size: 8,
        proof: vec![],
        checkpoint: log.sign_root(8, tlog::leaf_hash(b"other")),
    };
    assert!(matches!(
        refusal(same_size_other_root.to_body().as_bytes()),
        Refusal::Inconsistent { .. }
    ));
    let mut never = None;
    let proof_from_zero = AddCheckpoint {
        old_size: 0,
        proof: log.proof(4, 10),
        checkpoint: log.signed(10),
    };
    assert!(matches!(
        submit(&witness, &mut never, proof_from_zero.to_body().as_bytes()),
        Err(Refusal::Inconsistent { witnessed: 0, .. })
    ));
    let empty_with_a_root = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        checkpoint: log.sign_root(0, tlog::leaf_hash(b"x")),
    };
    assert!(matches!(
        submit(&witness, &mut never, empty_with_a_root.to_body().as_bytes()),
        Err(Refusal::Inconsistent { .. })
    ));
    assert_eq!(never, None);

    // The honest continuation is still accepted after all that.
    submit(&witness, &mut state, &log.request(8, 10)).expect("consistent");
    assert_eq!(
        state,
        Some(Witnessed {
            size: 10,
            root: log.tree.root()
        })
    );
    assert_ne!(log.tree.root(), EMPTY_ROOT);
}
