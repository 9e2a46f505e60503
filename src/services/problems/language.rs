//! The languages a problem offers starter code and solutions in, by their key in a
//! problem file (`python`, `javascript`, `c`, `cpp`).

use std::fmt;

/// A language of the bank. The key is what problem files and the wire use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    Javascript,
    C,
    Cpp,
}

impl Language {
    /// Every language, in the order tables and pickers show them.
    pub const ALL: [Language; 4] = [
        Language::Python,
        Language::Javascript,
        Language::C,
        Language::Cpp,
    ];

    /// The key in problem files and on the wire.
    pub fn key(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Javascript => "javascript",
            Language::C => "c",
            Language::Cpp => "cpp",
        }
    }

    /// The language named by `key`, or `None` for a key the bank does not know.
    pub fn parse(key: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.key() == key)
    }

    /// The known keys, for messages: `python, javascript, c, cpp`.
    pub fn known_keys() -> String {
        Language::ALL.map(Language::key).join(", ")
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_unknown_keys_are_none() {
        for l in Language::ALL {
            assert_eq!(Language::parse(l.key()), Some(l));
        }
        assert_eq!(Language::parse("rust"), None);
        assert_eq!(Language::parse("Python"), None);
        assert_eq!(Language::known_keys(), "python, javascript, c, cpp");
    }
}
