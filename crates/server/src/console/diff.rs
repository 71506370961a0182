//! Line differences between two versions of an object, as shown on its page.

/// One line of a difference: kept, added or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiffLine {
    pub class: &'static str,
    pub text: String,
}

/// Past this many lines on either side, a difference is not worth its quadratic cost.
const MAX_LINES: usize = 2_000;

/// The lines of `new` against `old` by longest common subsequence; unchanged stretches are
/// kept to a line of context around each change.
pub(crate) fn lines(old: &str, new: &str) -> Vec<DiffLine> {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        return vec![DiffLine {
            class: "same",
            text: "(too large to compare line by line)\n".to_owned(),
        }];
    }
    // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut common = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if a[i] == b[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut all = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            all.push(("same", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || common[i + 1][j] >= common[i][j + 1]) {
            all.push(("del", a[i]));
            i += 1;
        } else {
            all.push(("add", b[j]));
            j += 1;
        }
    }
    let changed: Vec<bool> = all.iter().map(|(c, _)| *c != "same").collect();
    all.iter()
        .enumerate()
        .filter(|(k, _)| {
            changed[*k]
                || (*k > 0 && changed[k - 1])
                || changed.get(k + 1).copied().unwrap_or(false)
        })
        .map(|(_, (class, text))| DiffLine {
            class,
            text: format!(
                "{} {text}\n",
                match *class {
                    "add" => '+',
                    "del" => '-',
                    _ => ' ',
                }
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_marked_with_context() {
        let old = "a\nb\nc\nd\ne\n";
        let new = "a\nb\nC\nd\ne\nf\n";
        let diff: Vec<String> = lines(old, new).into_iter().map(|l| l.text).collect();
        assert_eq!(
            diff,
            vec!["  b\n", "- c\n", "+ C\n", "  d\n", "  e\n", "+ f\n"]
        );
        assert!(lines(old, old).is_empty());
    }
}
