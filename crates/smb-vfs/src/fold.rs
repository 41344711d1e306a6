//! Case folding for case-insensitive name lookup.

/// Fold a name for case-insensitive comparison: each character mapped to its lower-case
/// form when that is a single character (an approximation of Unicode simple case folding,
/// which never changes the length in characters), final sigma folded to sigma. ASCII names
/// take a fast path. Two names match ignoring case when their folds are equal.
pub fn fold_name(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars().map(fold_char).collect()
}

fn fold_char(c: char) -> char {
    if c == 'ς' {
        return 'σ';
    }
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(one), None) => one,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::fold_name;

    #[test]
    fn folds_ascii_and_unicode_simply() {
        assert_eq!(fold_name("ReadMe.TXT"), "readme.txt");
        assert_eq!(fold_name("ÄRGER"), fold_name("ärger"));
        assert_eq!(fold_name("ΟΔΟΣ"), fold_name("οδος"));
        // U+0130 lower-cases to two characters; simple folding leaves it alone.
        assert_eq!(fold_name("İ"), "İ");
        assert_ne!(fold_name("a"), fold_name("b"));
    }
}
