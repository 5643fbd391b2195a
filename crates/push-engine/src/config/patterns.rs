//! `Patterns`: settings that list names (channels, origins).

/// A list of names: none, all (`On`/`*`), or comma-separated entries, each
/// an exact name or a prefix ending in `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patterns {
    None,
    All,
    List(Vec<String>),
}

impl Patterns {
    /// Whether `name` matches.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            Patterns::None => false,
            Patterns::All => true,
            Patterns::List(list) => list.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => p == name,
            }),
        }
    }

    pub(super) fn parse(value: &str) -> Result<Patterns, String> {
        let v = value.trim();
        if v == "*"
            || ["on", "yes", "true"]
                .iter()
                .any(|t| v.eq_ignore_ascii_case(t))
            || v == "1"
        {
            return Ok(Patterns::All);
        }
        if v.is_empty()
            || ["off", "no", "false", "none"]
                .iter()
                .any(|t| v.eq_ignore_ascii_case(t))
            || v == "0"
        {
            return Ok(Patterns::None);
        }
        let list: Vec<String> = v
            .split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        if list
            .iter()
            .any(|p| p.len() > 255 || p.bytes().any(|b| b.is_ascii_control() || b == b' '))
        {
            return Err(format!(
                "'{v}' is not a comma-separated list of names or prefixes ending in *"
            ));
        }
        // Commas alone name nothing: the same as Off.
        if list.is_empty() {
            return Ok(Patterns::None);
        }
        Ok(Patterns::List(list))
    }

    pub(super) fn show(&self) -> String {
        match self {
            Patterns::None => "Off".into(),
            Patterns::All => "*".into(),
            Patterns::List(l) => {
                let s = l.join(",");
                // A lone entry that reads as a keyword (On, Off, *, 1 …)
                // keeps a comma, so the list reads back as a list.
                if l.len() == 1 && Patterns::parse(&s).as_ref() != Ok(self) {
                    format!("{s},")
                } else {
                    s
                }
            }
        }
    }
}
