//! Topic selectors: what a subscription's `topic=` and a token's
//! `mercure.publish` / `mercure.subscribe` name — `*` (every topic), an
//! exact string, or an RFC 6570 URI template (`https://example.com/books/{id}`),
//! which matches the topics it could expand to.
//!
//! A template is compiled once, when the request that names it is read,
//! into a sequence of literal bytes and character runs (one per
//! expression, its class set by the operator); matching walks the topic
//! once per step, so its cost is bounded by the template's length times
//! the topic's, with no backtracking. A selector that is not a valid
//! template (an unclosed `{`, an operator of RFC 6570's reserved set) is
//! an exact string only.
//!
//! The 1.0 dialect's matchers (`match`, `matchExact`, `matchURLPattern`,
//! and a token's `authorization_details` topics) are selectors too: `*`,
//! [`Selector::Exact`] (never a template), and [`Selector::Pattern`].

use std::sync::Arc;

use super::pattern::Pattern;

/// One selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `*`: every topic.
    All,
    /// A topic, compared byte for byte.
    Exact(String),
    /// A URI template; a topic equal to the template's text also matches.
    Template(String, Vec<Step>),
    /// A URL pattern (Mercure 1.0).
    Pattern(Arc<Pattern>),
}

/// A 1.0 matcher type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Exact,
    UrlPattern,
}

impl MatchType {
    /// The type a subscribe query parameter names: `match` and
    /// `matchExact`, `matchURLPattern` (draft-08), and the spellings
    /// `match_exact`, `match_urlpattern`. `None` for any other name.
    pub fn of_parameter(name: &str) -> Option<MatchType> {
        match name {
            "match" | "matchExact" | "match_exact" => Some(MatchType::Exact),
            "matchURLPattern" | "match_urlpattern" => Some(MatchType::UrlPattern),
            _ => None,
        }
    }

    /// The type a token's `matchType` names (absent: `Exact`).
    pub fn of_claim(name: Option<&str>) -> Option<MatchType> {
        match name {
            None | Some("Exact") => Some(MatchType::Exact),
            Some("URLPattern") => Some(MatchType::UrlPattern),
            Some(_) => None,
        }
    }
}

/// Whether a query parameter is in the 1.0 dialect's reserved `match`
/// namespace (`match…`, any case).
pub fn is_match_parameter(name: &str) -> bool {
    name.get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("match"))
}

/// Whether `text` may be a 1.0 topic or matcher: no C0, C1 or DEL.
pub fn valid_text(text: &str) -> bool {
    !text.chars().any(|c| c.is_control())
}

impl Selector {
    /// A 1.0 matcher of type `kind`, relative patterns resolving against
    /// `base` (the hub's URL); `*` is every topic whatever the type.
    pub fn matcher(kind: MatchType, text: &str, base: &str) -> Result<Selector, String> {
        if text == "*" {
            return Ok(Selector::All);
        }
        match kind {
            MatchType::Exact => Ok(Selector::Exact(text.to_owned())),
            MatchType::UrlPattern => Ok(Selector::Pattern(Arc::new(Pattern::parse(text, base)?))),
        }
    }
}

/// A step of a compiled template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// This byte.
    Byte(u8),
    /// This byte, or nothing (an expression's operator prefix).
    Maybe(u8),
    /// Any run of bytes of the class, empty included.
    Run(Class),
}

/// The bytes an expression's expansion may be made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `{var}`: unreserved characters, percent-encodings, `,` between values.
    Simple,
    /// `{+var}`, `{#var}`: reserved characters too.
    Reserved,
    /// `{.var}`, `{/var}`, `{;var}`, `{?var}`, `{&var}`: simple, plus the
    /// operator's separators.
    Separated(u8, u8),
}

impl Class {
    fn has(self, b: u8) -> bool {
        let simple = b.is_ascii_alphanumeric() || b"-._~%,".contains(&b) || b >= 0x80;
        match self {
            Class::Simple => simple,
            Class::Reserved => simple || b":/?#[]@!$&'()*+;=".contains(&b),
            Class::Separated(a, c) => simple || b == a || b == c,
        }
    }
}

impl Selector {
    pub fn parse(text: &str) -> Selector {
        if text == "*" {
            return Selector::All;
        }
        match compile(text) {
            Some(steps) => Selector::Template(text.to_owned(), steps),
            None => Selector::Exact(text.to_owned()),
        }
    }

    pub fn matches(&self, topic: &str) -> bool {
        match self {
            Selector::All => true,
            Selector::Exact(s) => s == topic,
            Selector::Template(s, steps) => s == topic || walk(steps, topic.as_bytes()),
            Selector::Pattern(p) => p.matches(topic),
        }
    }
}

/// The selectors a subscription asks for: the classic `topic=` ones, or
/// the 1.0 matchers (`match`, `matchExact`, `matchURLPattern`, also spelt
/// `match_exact`, `match_urlpattern`), relative URL patterns resolving
/// against `base`. A request may not mix the two; another name of the
/// reserved `match` namespace (any case) is refused, as are 1.0 values
/// holding control characters. Else the reason, for a 400.
pub fn from_query(query: &[(String, String)], base: &str) -> Result<Vec<Selector>, String> {
    let mut classic = Vec::new();
    let mut matchers = Vec::new();
    for (key, value) in query {
        if key == "topic" {
            classic.push(Selector::parse(value));
        } else if is_match_parameter(key) {
            let kind = MatchType::of_parameter(key).ok_or_else(|| {
                let shown: String = key.chars().take(40).collect();
                format!("{shown:?} is not a matcher type: use match, matchExact or matchURLPattern")
            })?;
            if !valid_text(value) {
                return Err(format!("{key}: a matcher must not hold control characters"));
            }
            matchers.push(Selector::matcher(kind, value, base).map_err(|e| format!("{key}: {e}"))?);
        }
    }
    match (classic.is_empty(), matchers.is_empty()) {
        (false, false) => Err("use topic= (classic) or match= (1.0), not both".into()),
        (true, true) => {
            Err("missing topic: name at least one topic selector (topic=, or match=)".into())
        }
        (false, true) => Ok(classic),
        (true, false) => Ok(matchers),
    }
}

/// Whether one of `topics` matches one of `selectors`.
pub fn any(selectors: &[Selector], topics: &[String]) -> bool {
    topics
        .iter()
        .any(|t| selectors.iter().any(|s| s.matches(t)))
}

/// Whether every one of `topics` matches one of `selectors`.
pub fn all(selectors: &[Selector], topics: &[String]) -> bool {
    topics
        .iter()
        .all(|t| selectors.iter().any(|s| s.matches(t)))
}

/// The steps of a template with at least one expression; `None` for text
/// that is not one.
fn compile(text: &str) -> Option<Vec<Step>> {
    let bytes = text.as_bytes();
    let mut steps = Vec::with_capacity(bytes.len());
    let mut expressions = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                let end = i + bytes[i..].iter().position(|&b| b == b'}')?;
                let inner = &bytes[i + 1..end];
                let (op, vars) = match inner.first()? {
                    op @ (b'+' | b'#' | b'.' | b'/' | b';' | b'?' | b'&') => {
                        (Some(*op), &inner[1..])
                    }
                    _ => (None, inner),
                };
                let var = |b: &u8| b.is_ascii_alphanumeric() || b"_%.,*:".contains(b);
                if vars.is_empty() || !vars.iter().all(var) {
                    return None;
                }
                match op {
                    None => steps.push(Step::Run(Class::Simple)),
                    Some(b'+') => steps.push(Step::Run(Class::Reserved)),
                    Some(b'#') => {
                        steps.push(Step::Maybe(b'#'));
                        steps.push(Step::Run(Class::Reserved));
                    }
                    Some(op) => {
                        let (a, c) = match op {
                            b';' => (b';', b'='),
                            b'?' | b'&' => (b'&', b'='),
                            other => (other, other),
                        };
                        steps.push(Step::Maybe(op));
                        steps.push(Step::Run(Class::Separated(a, c)));
                    }
                }
                expressions += 1;
                i = end + 1;
            }
            b'}' => return None,
            b => {
                steps.push(Step::Byte(b));
                i += 1;
            }
        }
    }
    (expressions > 0).then_some(steps)
}

/// Whether `steps` match the whole of `topic`: the set of positions each
/// step can end at, step by step.
fn walk(steps: &[Step], topic: &[u8]) -> bool {
    let n = topic.len();
    let mut at = vec![false; n + 1];
    let mut next = vec![false; n + 1];
    at[0] = true;
    for step in steps {
        next.iter_mut().for_each(|b| *b = false);
        let mut any = false;
        match *step {
            Step::Byte(b) => {
                for i in 0..n {
                    if at[i] && topic[i] == b {
                        next[i + 1] = true;
                        any = true;
                    }
                }
            }
            Step::Maybe(b) => {
                for i in 0..=n {
                    if at[i] {
                        next[i] = true;
                        any = true;
                        if i < n && topic[i] == b {
                            next[i + 1] = true;
                        }
                    }
                }
            }
            Step::Run(class) => {
                let mut reach = false;
                for i in 0..=n {
                    reach |= at[i];
                    if reach {
                        next[i] = true;
                        any = true;
                        if i < n && !class.has(topic[i]) {
                            reach = false;
                        }
                    }
                }
            }
        }
        if !any {
            return false;
        }
        std::mem::swap(&mut at, &mut next);
    }
    at[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(selector: &str, topic: &str) -> bool {
        Selector::parse(selector).matches(topic)
    }

    #[test]
    fn all_and_exact() {
        assert!(m("*", "anything at all"));
        assert!(m(
            "https://example.com/books/1",
            "https://example.com/books/1"
        ));
        assert!(!m(
            "https://example.com/books/1",
            "https://example.com/books/12"
        ));
        assert_eq!(Selector::parse("plain"), Selector::Exact("plain".into()));
    }

    #[test]
    fn simple_expressions() {
        let t = "https://example.com/books/{id}";
        assert!(m(t, "https://example.com/books/1"));
        assert!(m(t, "https://example.com/books/abc-DEF_1.2~%20"));
        assert!(m(t, "https://example.com/books/"), "an empty value");
        assert!(m(t, t), "the template's own text");
        assert!(
            !m(t, "https://example.com/books/1/chapters"),
            "no slash in a simple value"
        );
        assert!(!m(t, "https://example.com/book/1"));
        assert!(!m(t, "https://example.com/books/1?x"));
        let two = "https://example.com/{kind}/{id}/reviews";
        assert!(m(two, "https://example.com/books/7/reviews"));
        assert!(!m(two, "https://example.com/books/7/x/reviews"));
        assert!(m("/users/{id}{?page}", "/users/3?page=2"));
        assert!(m("/users/{id}{?page}", "/users/3"));
        assert!(m("urn:item:{a,b}", "urn:item:1,2"));
    }

    #[test]
    fn operators() {
        assert!(m("https://example.com{+path}", "https://example.com/a/b?c"));
        assert!(m("https://example.com/{+rest}", "https://example.com/x/y"));
        assert!(m("/files{/segments*}", "/files/a/b/c"));
        assert!(!m("/files{/segments*}", "/files/a?b"));
        assert!(m("/doc{#section}", "/doc#intro"));
        assert!(m("/map{;x,y}", "/map;x=1;y=2"));
        assert!(m("/file{.ext}", "/file.json"));
        assert!(m("/q{?a,b}{&c}", "/q?a=1&b=2&c=3"));
    }

    #[test]
    fn invalid_templates_are_exact_strings() {
        for text in [
            "/a/{id", "/a/id}", "/a/{}", "/a/{=x}", "/a/{x y}", "/a/{@x}",
        ] {
            assert_eq!(
                Selector::parse(text),
                Selector::Exact(text.into()),
                "{text}"
            );
            assert!(m(text, text));
        }
    }

    #[test]
    fn long_topics_are_linear() {
        let t = "{a}{b}{c}{d}{e}{f}{g}{h}!";
        let topic = "x".repeat(20_000);
        assert!(!m(t, &topic));
        assert!(m(t, &format!("{topic}!")));
    }

    #[test]
    fn any_and_all() {
        let sel = vec![Selector::parse("/books/{id}"), Selector::parse("/news")];
        let topics = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(any(&sel, &topics(&["/x", "/news"])));
        assert!(!all(&sel, &topics(&["/x", "/news"])));
        assert!(all(&sel, &topics(&["/books/1", "/news"])));
        assert!(!any(&[], &topics(&["/news"])));
    }

    #[test]
    fn matchers_of_the_1_0_dialect() {
        let hub = "https://hub.example/.well-known/mercure";
        let exact = Selector::matcher(MatchType::Exact, "/books/{id}", hub).unwrap();
        assert!(exact.matches("/books/{id}") && !exact.matches("/books/1"));
        let all = Selector::matcher(MatchType::UrlPattern, "*", hub).unwrap();
        assert_eq!(all, Selector::All);
        let p = Selector::matcher(MatchType::UrlPattern, "/books/:id", hub).unwrap();
        assert!(p.matches("/books/1") && p.matches("https://hub.example/books/2"));
        assert!(!p.matches("/books/1/2"));
        assert!(Selector::matcher(MatchType::UrlPattern, "/books/(", hub).is_err());
        for (name, kind) in [
            ("match", Some(MatchType::Exact)),
            ("matchExact", Some(MatchType::Exact)),
            ("match_exact", Some(MatchType::Exact)),
            ("matchURLPattern", Some(MatchType::UrlPattern)),
            ("match_urlpattern", Some(MatchType::UrlPattern)),
            ("matchUrlPattern", None),
            ("MATCH", None),
            ("matches", None),
        ] {
            assert_eq!(MatchType::of_parameter(name), kind, "{name}");
            assert!(is_match_parameter(name), "{name}");
        }
        assert!(!is_match_parameter("topic") && !is_match_parameter("mat"));
        assert_eq!(MatchType::of_claim(None), Some(MatchType::Exact));
        assert_eq!(
            MatchType::of_claim(Some("URLPattern")),
            Some(MatchType::UrlPattern)
        );
        assert_eq!(MatchType::of_claim(Some("urlpattern")), None);
        assert!(valid_text("https://example.com/é") && !valid_text("a\u{85}b"));
        assert!(!valid_text("a\u{7f}") && !valid_text("a\nb"));
    }

    #[test]
    fn selectors_of_a_query() {
        let hub = "https://hub.example/.well-known/mercure";
        let q = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            from_query(&pairs, hub)
        };
        let classic = q(&[("topic", "/books/{id}"), ("other", "x")]).unwrap();
        assert!(classic[0].matches("/books/1"));
        let v1 = q(&[("match", "/books/{id}"), ("matchURLPattern", "/news/:id")]).unwrap();
        assert!(!v1[0].matches("/books/1") && v1[0].matches("/books/{id}"));
        assert!(v1[1].matches("/news/1"));
        assert_eq!(
            q(&[("match_exact", "a"), ("match_urlpattern", "*")]).unwrap()[1],
            Selector::All
        );
        for (bad, why) in [
            (&[("topic", "a"), ("match", "b")][..], "not both"),
            (&[][..], "missing topic"),
            (&[("matchRegex", "a")][..], "not a matcher type"),
            (&[("Match", "a")][..], "not a matcher type"),
            (&[("match", "a\u{0}")][..], "control"),
            (&[("matchURLPattern", "/(")][..], "URL pattern"),
        ] {
            let e = q(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
