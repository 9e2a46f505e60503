//! Browser origins allowed to open a Socket.IO connection (`ALLOWED_ORIGINS`).
//!
//! A browser always sends `Origin` on a WebSocket upgrade and on cross-origin requests;
//! a page from another site is refused by it. Non-browser clients send none, and a
//! missing `Origin` is allowed: it protects players' browsers from other sites, it does
//! not authenticate anyone (tokens do).

/// The allowed origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origins {
    Any,
    /// Exact `scheme://host[:port]` values, lower case, no trailing slash.
    List(Vec<String>),
}

impl Origins {
    /// `https://a.example, http://localhost:3000`; `*` alone means any.
    pub fn parse(list: &str) -> Result<Origins, String> {
        let list = list.trim();
        if list == "*" {
            return Ok(Origins::Any);
        }
        let mut out = Vec::new();
        for item in list.split(',').map(str::trim) {
            let ok = (item.starts_with("http://") || item.starts_with("https://"))
                && !item.ends_with('/')
                && !item["https://".len().min(item.len())..].contains('/');
            if !ok {
                return Err(format!(
                    "{item:?} is not an origin like https://play.example.com or http://localhost:3000"
                ));
            }
            out.push(item.to_ascii_lowercase());
        }
        Ok(Origins::List(out))
    }

    /// May a request with this `Origin` header (if any) connect?
    pub fn allows(&self, origin: Option<&str>) -> bool {
        match (self, origin) {
            (Origins::Any, _) | (_, None) => true,
            (Origins::List(list), Some(o)) => {
                let o = o.trim().to_ascii_lowercase();
                list.contains(&o)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_match_exactly_and_case_insensitively() {
        let o = Origins::parse("https://play.example.com, http://localhost:3000").unwrap();
        assert!(o.allows(Some("https://PLAY.example.com")));
        assert!(o.allows(Some("http://localhost:3000")));
        assert!(!o.allows(Some("http://localhost:3001")));
        assert!(!o.allows(Some("https://play.example.com.evil.io")));
        assert!(!o.allows(Some("null")));
        assert!(o.allows(None));
        assert_eq!(Origins::parse("*").unwrap(), Origins::Any);
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(Origins::parse("example.com").is_err());
        assert!(Origins::parse("https://a.example/").is_err());
        assert!(Origins::parse("https://a.example/path").is_err());
        assert!(Origins::parse("https://a.example,").is_err());
    }
}
